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
