import Testing

@testable import ServerConfig

@Suite struct ConfigTests {
    @Test func fileAndFlagsLikeRedisServer() throws {
        let options = try startupOptions(from: ["--port", "7000", "--save", "", "--bind", "127.0.0.1", "::1"])
        #expect(options.configFile == nil)
        let config = Config()
        try config.apply(text: options.text)
        #expect(config["port"] == "7000")
        #expect(config["save"] == "")
        #expect(config["bind"] == "127.0.0.1 ::1")
    }

    /// The announced names are checked as Redis 8.0.2 checks them (same texts, compared
    /// with CONFIG SET on both).
    @Test func announcedNamesAreValidated() {
        let config = Config()
        #expect(throws: ConfigError.self) { try config.apply(text: "cluster-announce-hostname bad_host\n") }
        #expect(throws: ConfigError.self) {
            try config.apply(text: "cluster-announce-hostname \(String(repeating: "a", count: 256))\n")
        }
        #expect(throws: ConfigError.self) { try config.apply(text: "cluster-announce-human-nodename a:b\n") }
        #expect(
            Config.announcedNameProblem("cluster-announce-hostname", "x_y")
                == "Hostnames may only contain alphanumeric characters, hyphens or dots")
        #expect(Config.announcedNameProblem("cluster-announce-hostname", "ok-host.example") == nil)
        #expect(Config.announcedNameProblem("cluster-announce-human-nodename", "node 1 é") == nil)
    }

    @Test func fatalReportNamesTheLine() {
        let config = Config()
        do {
            try config.apply(text: "port 6380\n\nmaxmemory lots\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("Reading the configuration file, at line 3"))
            #expect(error.message.contains(">>> 'maxmemory lots'"))
            #expect(error.message.contains("argument must be a memory value"))
        }
    }

    @Test func savePointsAccumulateInAFile() throws {
        let config = Config()
        try config.apply(text: "save 900 1\nsave 300 10\n")
        #expect(config["save"] == "900 1 300 10")
        try config.apply(text: "save \"\"\n")
        #expect(config["save"] == "")
    }

    @Test func memoryUnits() {
        #expect(parseMemory("100mb") == 104_857_600)
        #expect(parseMemory("1g") == 1_000_000_000)
        #expect(parseMemory("1GB") == 1_073_741_824)
        #expect(parseMemory("5k") == 5000)
        #expect(parseMemory("abc") == nil)
    }

    @Test func setIsAtomic() {
        let config = Config()
        do {
            try config.set([("timeout", "5"), ("maxmemory", "bad")])
            Issue.record("expected an error")
        } catch {
            #expect(error.directive == "maxmemory")
        }
        #expect(config["timeout"] == "0")
    }

    @Test func keyspaceEventFlags() {
        #expect(KeyspaceEvents(parsing: "KEA")?.description == "AKE")
        #expect(KeyspaceEvents(parsing: "Ex")?.description == "xE")
        #expect(KeyspaceEvents(parsing: "Z") == nil)
    }
}

@Suite struct TLSOptionsTests {
    func config(_ text: String) throws -> Config {
        let config = Config()
        try config.apply(text: "tls-cert-file /c.crt\ntls-key-file /c.key\ntls-ca-cert-file /ca.crt\n" + text)
        return config
    }

    @Test func protocolsAreAnyCaseAndDefaultToTwelveAndThirteen() throws {
        let defaults = try TLSOptions(config(""))
        #expect(defaults.minimumVersion == .tls1_2 && defaults.maximumVersion == .tls1_3)
        let chosen = try TLSOptions(config("tls-protocols \"tlsv1.1 TLSv1.2\""))
        #expect(chosen.minimumVersion == .tls1_1 && chosen.maximumVersion == .tls1_2)
        #expect(throws: ConfigError.self) { try TLSOptions(config("tls-protocols \"TLSv1.2 SSLv3\"")) }
    }

    @Test func missingFilesAreRedisErrors() throws {
        let noKey = Config()
        try noKey.apply(text: "tls-cert-file /c.crt\n")
        #expect(throws: ConfigError("No tls-key-file configured!")) { try TLSOptions(noKey) }
        let noCA = Config()
        try noCA.apply(text: "tls-cert-file /c.crt\ntls-key-file /c.key\n")
        #expect(throws: ConfigError.self) { try TLSOptions(noCA) }
        // Without client authentication and TLS links no CA is needed.
        try noCA.apply(text: "tls-auth-clients no\n")
        #expect(try TLSOptions(noCA).clientAuthentication == .off)
    }

    @Test func clientCertificateFallsBackToTheServers() throws {
        let own = try TLSOptions(config(""))
        #expect(own.clientCertFile == "/c.crt" && own.clientKeyFile == "/c.key")
        let separate = try TLSOptions(config("tls-client-cert-file /r.crt\ntls-client-key-file /r.key\n"))
        #expect(separate.clientCertFile == "/r.crt" && separate.clientKeyFile == "/r.key")
    }

    @Test func authClientsIsAnEnumerationAndUserTakesCN() throws {
        let c = try config("tls-auth-clients OPTIONAL\ntls-auth-clients-user cn\n")
        #expect(c["tls-auth-clients"] == "optional")
        #expect(c["tls-auth-clients-user"] == "CN")
        #expect(throws: ConfigError.self) { try c.set([("tls-auth-clients", "maybe")]) }
        #expect(try TLSOptions(c).clientAuthentication == .optional)
    }

    @Test func cipherSuitesAndDHParamsAreChecked() throws {
        #expect(throws: ConfigError.self) { try TLSOptions(config("tls-ciphersuites NOPE\n")) }
        _ = try TLSOptions(config("tls-ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256\n"))
        #expect(throws: ConfigError.self) { try TLSOptions(config("tls-dh-params-file /nonexistent.dh\n")) }
    }

    @Test func renameCommandLinesAreKeptWithTheirReport() throws {
        let c = Config()
        try c.apply(text: "port 7000\nrename-command CONFIG \"\"\nrename-command flushall wipe\n")
        #expect(c.commandRenames.map { [$0.old, $0.new] } == [["CONFIG", ""], ["flushall", "wipe"]])
        #expect(c.commandRenames[1].report("Target command name already exists").contains("at line 3"))
        #expect(throws: ConfigError.self) { try Config().apply(text: "rename-command CONFIG\n") }
    }
}

@Suite struct UserDirectiveTests {
    @Test func aUserDeclaredTwiceIsAFatalLine() {
        let config = Config()
        #expect(throws: ConfigError.self) { try config.apply(text: "user foo on\nuser foo off\n") }
        do {
            try Config().apply(text: "user default on\nport 7000\nuser default off\n")
        } catch {
            #expect(error.message.contains("at line 3"))
            #expect(
                error.message.contains(
                    "Error in user declaration 'default': Duplicate user found. A user can only be defined once in config files"
                ))
        }
    }
}

@Suite struct CommandLineTests {
    func text(_ args: [String]) throws -> String { try startupOptions(from: args).text }

    @Test func aBareOptionTakesTheNextArgumentEvenWithDashes() throws {
        #expect(
            try text(["--logfile", "--my--log--file", "--loglevel", "verbose"])
                == "\nlogfile \"--my--log--file\" \nloglevel \"verbose\" ")
        #expect(try text(["--port", "--bla", "--loglevel", "verbose"]) == "\nport \"--bla\" \nloglevel \"verbose\" ")
        // A name and value in one argument: the next `--` starts a new option.
        #expect(try text(["--maxmemory 700mb", "--loglevel", "debug"]) == "\nmaxmemory 700mb \nloglevel \"debug\" ")
    }

    @Test func saveAndSentinelAloneBeforeAnotherOption() throws {
        #expect(try text(["--save", "--loglevel", "verbose"]) == "\nsave \"\"\nloglevel \"verbose\" ")
        #expect(try text(["--loglevel", "verbose", "--save"]) == "\nloglevel \"verbose\" \nsave \"\"")
        let config = Config()
        try config.apply(text: try text(["--save", "--loglevel", "verbose"]))
        #expect(config["save"] == "" && config["loglevel"] == "verbose")
    }

    @Test func errorsNameTheOptionAsRedisDoes() {
        func failure(_ args: [String]) -> String {
            do {
                try Config().apply(text: try text(args))
                return ""
            } catch { return (error as? ConfigError)?.message ?? "" }
        }
        #expect(failure(["--port", "--loglevel", "verbose"]).contains("'port \"--loglevel\" \"verbose\"'"))
        #expect(failure(["--port", "--bla"]).contains("argument couldn't be parsed into an integer"))
        #expect(failure(["--replicaof", "127.0.0.1", "abc"]).contains("Invalid master port"))
        #expect(failure(["--shutdown-on-sigint"]).contains("argument(s) must be one of the following"))
    }

    @Test func shutdownSignalFlagsKeepRedisOrder() throws {
        let config = Config()
        try config.set([("shutdown-on-sigterm", "force NOW")])
        #expect(config["shutdown-on-sigterm"] == "now force")
        try config.set([("shutdown-on-sigterm", "default")])
        #expect(config["shutdown-on-sigterm"] == "default")
        #expect(throws: ConfigError.self) { try config.set([("shutdown-on-sigint", "later")]) }
    }
}
