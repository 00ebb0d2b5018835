import Foundation

/// A webhook signing secret's key bytes: a secret written `whsec_<base64>` is the base64 of the
/// key bytes (the Standard Webhooks convention); any other secret is used as its UTF-8 bytes.
/// The configuration reader warns about short keys; `WebhookSignature` signs with them.
public enum WebhookSecret {
    public static func keyBytes(_ secret: String) -> [UInt8] {
        if secret.hasPrefix("whsec_"), let data = Data(base64Encoded: String(secret.dropFirst(6))) {
            return [UInt8](data)
        }
        return Array(secret.utf8)
    }
}
