import Crypto
import Foundation

/// Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256(id.timestamp.body)>`,
/// keyed with the secret's bytes (`WebhookSecret.keyBytes`).
public enum WebhookSignature {
    public static func keyBytes(_ secret: String) -> [UInt8] { WebhookSecret.keyBytes(secret) }

    /// The `v1,…` value for one message.
    public static func sign(id: String, timestamp: Int, body: [UInt8], secret: String) -> String {
        var content = Array("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        let key = SymmetricKey(data: keyBytes(secret))
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }

    public enum Verdict: Equatable, Sendable {
        case valid
        case missingHeaders
        case staleTimestamp
        case badSignature
    }

    /// Checks the headers of a received message; `tolerance` bounds clock skew and replays.
    public static func verify(
        id: String?, timestamp: String?, signature: String?, body: [UInt8], secret: String,
        now: Double = Date().timeIntervalSince1970, tolerance: Double = 300
    ) -> Verdict {
        guard let id, let timestamp, let signature, let ts = Int(timestamp) else { return .missingHeaders }
        guard abs(now - Double(ts)) <= tolerance else { return .staleTimestamp }
        let expected = Array(sign(id: id, timestamp: ts, body: body, secret: secret).utf8)
        // Several space-separated signatures are allowed (key rotation); compare in constant time.
        for candidate in signature.split(separator: " ") where constantTimeEqual(Array(candidate.utf8), expected) {
            return .valid
        }
        return .badSignature
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
