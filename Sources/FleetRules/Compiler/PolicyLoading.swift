import Foundation

extension Policy {
    /// Loads and checks a pack (a file or a folder of files); throws every error found.
    ///
    ///     let plan = try Policy.load(contentsOf: URL(fileURLWithPath: "rules/")).compile()
    public static func load(contentsOf url: URL) throws -> Policy {
        try load(paths: [url.path])
    }

    /// Loads and checks files and folders; throws `PolicyPathError` for a missing path and
    /// `DiagnosticsError` (all errors, warnings left out) when the policy has errors.
    public static func load(paths: [String]) throws -> Policy {
        let result = PolicyLoader().check(files: try PolicyLoader.files(for: paths))
        guard let policy = result.policy else {
            throw DiagnosticsError(result.diagnostics.filter { $0.severity == .error })
        }
        return policy
    }

    /// Checks a pack held in memory, e.g. posted to a service.
    public static func parse(_ text: String, file: String = "policy.yaml") throws -> Policy {
        let result = PolicyLoader().check(sources: [(file: file, bytes: Array(text.utf8))])
        guard let policy = result.policy else {
            throw DiagnosticsError(result.diagnostics.filter { $0.severity == .error })
        }
        return policy
    }
}
