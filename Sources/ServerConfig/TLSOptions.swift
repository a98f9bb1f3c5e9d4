#if canImport(Glibc)
    import Glibc
#endif

/// Redis's TLS directives read and checked, before the runtime makes TLS contexts of them
/// (tlsConfigure in Redis's tls.c): which files, which protocol versions, which ciphers,
/// whether clients must show a certificate. Reading the files is the runtime's part; what
/// can be judged from the text alone is judged here, with Redis's log lines as the errors.
public struct TLSOptions: Equatable, Sendable {
    /// `tls-auth-clients`: whether a client must present a certificate the CA signed.
    public enum ClientAuthentication: String, Sendable {
        case required = "yes"
        case off = "no"
        case optional
    }

    /// A TLS protocol version `tls-protocols` can name, oldest first.
    public enum ProtocolVersion: Int, Comparable, Sendable, CaseIterable {
        case tls1_0, tls1_1, tls1_2, tls1_3
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    public var certFile: String
    public var keyFile: String
    public var keyFilePass: String
    /// The certificate and key for connections this server opens (replication); the server's
    /// own when `tls-client-cert-file` is not set, as Redis does.
    public var clientCertFile: String
    public var clientKeyFile: String
    public var clientKeyFilePass: String
    public var caCertFile: String
    public var caCertDir: String
    public var dhParamsFile: String
    public var clientAuthentication: ClientAuthentication
    /// The lowest and highest version `tls-protocols` allows (Redis's default: 1.2 and 1.3).
    public var minimumVersion: ProtocolVersion
    public var maximumVersion: ProtocolVersion
    /// `tls-ciphers`, OpenSSL's cipher-list syntax for TLS 1.2 and older; empty for the default.
    public var ciphers: String

    /// Reads the directives; the error is the line Redis logs for the same setting.
    public init(_ config: Config) throws(ConfigError) {
        certFile = config["tls-cert-file"]
        keyFile = config["tls-key-file"]
        keyFilePass = config["tls-key-file-pass"]
        let ownClientCert = config["tls-client-cert-file"]
        clientCertFile = ownClientCert.isEmpty ? certFile : ownClientCert
        clientKeyFile = ownClientCert.isEmpty ? keyFile : config["tls-client-key-file"]
        clientKeyFilePass = ownClientCert.isEmpty ? keyFilePass : config["tls-client-key-file-pass"]
        caCertFile = config["tls-ca-cert-file"]
        caCertDir = config["tls-ca-cert-dir"]
        dhParamsFile = config["tls-dh-params-file"]
        clientAuthentication = ClientAuthentication(rawValue: config["tls-auth-clients"]) ?? .required
        ciphers = config["tls-ciphers"]
        guard !certFile.isEmpty else { throw ConfigError("No tls-cert-file configured!") }
        guard !keyFile.isEmpty else { throw ConfigError("No tls-key-file configured!") }
        if !ownClientCert.isEmpty && clientKeyFile.isEmpty {
            throw ConfigError("No tls-client-key-file configured!")
        }
        if (clientAuthentication != .off || config.bool("tls-cluster") || config.bool("tls-replication"))
            && caCertFile.isEmpty && caCertDir.isEmpty
        {
            throw ConfigError(
                "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!"
            )
        }
        let versions = try Self.protocolVersions(config["tls-protocols"])
        minimumVersion = versions.min() ?? .tls1_2
        maximumVersion = versions.max() ?? .tls1_3
        try Self.checkCipherSuites(config["tls-ciphersuites"])
        if !dhParamsFile.isEmpty { try Self.checkDHParams(dhParamsFile) }
    }

    /// `tls-protocols`: space-separated names, any case; empty means TLS 1.2 and 1.3.
    public static func protocolVersions(_ text: String) throws(ConfigError) -> [ProtocolVersion] {
        let names = text.split(separator: " ")
        if names.isEmpty { return [.tls1_2, .tls1_3] }
        var versions: [ProtocolVersion] = []
        for name in names {
            switch name.lowercased() {
            case "tlsv1": versions.append(.tls1_0)
            case "tlsv1.1": versions.append(.tls1_1)
            case "tlsv1.2": versions.append(.tls1_2)
            case "tlsv1.3": versions.append(.tls1_3)
            default:
                throw ConfigError(
                    "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."
                )
            }
        }
        return versions
    }

    /// TLS 1.3's suite names. Swiftlet's TLS library (BoringSSL) always offers its fixed
    /// TLS 1.3 set, so `tls-ciphersuites` is checked, as OpenSSL would reject it, but not
    /// applied.
    static let tls13CipherSuites: Set<String> = [
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
        "TLS_AES_128_CCM_8_SHA256",
    ]

    static func checkCipherSuites(_ text: String) throws(ConfigError) {
        guard !text.isEmpty else { return }
        let names = text.split(separator: ":").map(String.init)
        if !names.contains(where: tls13CipherSuites.contains) {
            throw ConfigError("Failed to configure ciphersuites: no cipher match")
        }
    }

    /// `tls-dh-params-file`: Redis fails when the file cannot be read as DH parameters.
    /// BoringSSL has no finite-field DHE suites, so the parameters are checked, not used.
    static func checkDHParams(_ path: String) throws(ConfigError) {
        guard let file = fopen(path, "r") else {
            throw ConfigError("Failed to load \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("-----BEGIN DH PARAMETERS-----") { return }
        }
        throw ConfigError("Failed to load DH params file: \(path)")
    }
}
