import AgentJobsCore
import Foundation
import PropertyBased
import Testing

@Suite("Timestamps")
struct TimestampTests {
    @Test(
        "parses RFC 3339 with zone and fractions",
        arguments: [
            ("2026-01-02T03:04:05Z", 1_767_323_045.0),
            ("2026-01-02T03:04:05.678Z", 1_767_323_045.678),
            ("2026-01-02T05:04:05.5+02:00", 1_767_323_045.5),
            ("2026-01-01T22:04:05-05:00", 1_767_323_045.0),
            ("2024-02-29t00:00:00z", 1_709_164_800.0),
            ("1969-12-31T23:59:59Z", -1.0),
        ])
    func parses(text: String, epoch: Double) throws {
        let date = try #require(Timestamp.parse(text))
        #expect(abs(date.timeIntervalSince1970 - epoch) < 0.0005)
    }

    @Test(
        "rejects what is not RFC 3339 with a zone",
        arguments: [
            "2026-01-02T03:04:05", "2026-01-02", "2026-1-02T03:04:05Z", "2026-02-30T00:00:00Z",
            "2025-02-29T00:00:00Z", "2026-01-02T24:00:00Z", "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05+0200",
            "2026-01-02T03:04:05Z junk", "", "tomorrow", "2026-01-02T03:04:05+25:00",
        ])
    func rejects(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test("formats UTC with milliseconds and round-trips")
    func formats() throws {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_767_323_045.678)) == "2026-01-02T03:04:05.678Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
        for epoch in stride(from: -1e9, through: 4e9, by: 123_456_789.123) {
            let date = Timestamp.truncated(Date(timeIntervalSince1970: epoch))
            #expect(Timestamp.parse(Timestamp.format(date)).map(Timestamp.millis) == Timestamp.millis(date))
        }
        // Years past four digits take the general way.
        #expect(Timestamp.format(Date(timeIntervalSince1970: 253_402_300_800)) == "10000-01-01T00:00:00.000Z")
    }

    @Test("any date of years 1 to 9999: 24 characters, its millisecond, and the instant it parses back to")
    func formatsAnyDate() async {
        // `Gen.date` gives midnights; a millisecond of the day is added to each.
        await propertyCheck(count: 3000, input: Gen.date(inYear: 1...9999), Gen.int(in: 0...86_399_999)) {
            day, millisecond in
            let date = Timestamp.date(millis: Timestamp.millis(day) + Int64(millisecond))
            let text = Timestamp.format(date)
            let millis = Timestamp.millis(date)
            #expect(text.utf8.count == 24, "\(text)")
            #expect(text.hasSuffix(String(format: ".%03dZ", ((millis % 1000) + 1000) % 1000)), "\(text)")
            // Parsing goes through seconds as a `Double`: far from 1970 it may land a millisecond off.
            let parsed = Timestamp.parse(text).map(Timestamp.millis)
            #expect(parsed.map { abs($0 - millis) <= 1 } == true, "\(text): \(String(describing: parsed)) \(millis)")
        }
    }
}

@Suite("Shell words")
struct ShellWordsTests {
    @Test(
        "splits like a shell without expansion",
        arguments: [
            ("prog a b", ["prog", "a", "b"]),
            ("  prog   'a b'  \"c d\" ", ["prog", "a b", "c d"]),
            (#"sh -c 'echo "$X"'"#, ["sh", "-c", #"echo "$X""#]),
            (#"a\ b c"#, ["a b", "c"]),
            ("x ''", ["x", ""]),
        ])
    func splits(text: String, words: [String]) {
        #expect(ShellWords.split(text) == words)
    }

    @Test("an open quote is an error")
    func openQuote() {
        #expect(ShellWords.split("prog 'a") == nil)
        #expect(ShellWords.split("prog \"a") == nil)
    }
}

@Suite("Database URLs")
struct DatabaseURLTests {
    @Test("a PostgreSQL URL takes sslmode, search_path and prepared_statements, each with a value it knows")
    func postgresParameters() throws {
        let good = "postgres://u:p@db:5432/x?sslmode=require&search_path=s1&prepared_statements=off"
        #expect(try DatabaseLocation(url: good) == .postgres(url: good))
        #expect(try DatabaseLocation(url: "postgresql://db/x") == .postgres(url: "postgresql://db/x"))
        for (url, named) in [
            ("postgres://u:secret@db/x?prepared_statements=yes", "prepared_statements must be one of on, off"),
            ("postgres://u:secret@db/x?sslmode=verify-full", "sslmode must be one of disable, prefer, require"),
            ("postgres://u:secret@db/x?search_path=", "search_path needs a value"),
            ("postgres://u:secret@db/x?sslmode=disable&timeout=5", "parameter 'timeout' is not one of"),
        ] {
            let error = #expect(throws: AgentJobsError.self) { try DatabaseLocation(url: url) }
            #expect(error?.message.contains(named) == true, "\(url): \(error?.message ?? "")")
            #expect(error?.message.contains("secret") == false, "never the password")
        }
    }
}

@Suite("Config and ids")
struct ConfigTests {
    @Test("overrides win over the type's defaults, which win over global defaults")
    func resolution() {
        let type = JobConfigOverrides(maxFollowUps: 4, taskRetryInterval: 2, profileID: "p")
        let request = JobConfigOverrides(taskRetryInterval: 0.5, startPrompt: "hi")
        let config = request.resolved(over: type)
        #expect(
            config
                == JobConfig(
                    maxFollowUps: 4, maxTaskRetries: 0, taskRetryInterval: 0.5, startPrompt: "hi",
                    maxTimeToComplete: 60, profileID: "p"))
        #expect(JobConfigOverrides().resolved(over: nil) == .defaults)
    }

    @Test("ids are unique and sort by time")
    func identifiers() {
        let early = Identifier.make(prefix: "job", at: Date(timeIntervalSince1970: 1_000))
        let late = Identifier.make(prefix: "job", at: Date(timeIntervalSince1970: 2_000))
        #expect(early < late)
        #expect(early.hasPrefix("job_") && early.count == 30)
        let many = (0..<1000).map { _ in Identifier.make(prefix: "job") }
        #expect(Set(many).count == 1000)
    }

    @Test("tokens carry their id, and only the hash identifies the secret")
    func tokens() throws {
        let generated = TokenSecret.generate()
        let parsed = try #require(TokenSecret.parse(generated.token))
        #expect(parsed.id == generated.id)
        #expect(TokenSecret.hash(secret: parsed.secret) == generated.secretHash)
        #expect(!generated.secretHash.contains(parsed.secret))
        #expect(parsed.secret.count == 64, "256 random bits")
        #expect(TokenSecret.parse("aj_x_y") == nil)
        #expect(TokenSecret.parse("bearer") == nil)
        #expect(TokenSecret.generate().token != generated.token)
        let secret = String(repeating: "aB3", count: 21) + "f"
        #expect(TokenSecret.parse("aj_0F_\(secret)").map { [$0.id, $0.secret] } == ["0F", secret])
        #expect(TokenSecret.parse("aj_0F_\(secret.dropLast())") == nil, "63 digits")
        #expect(TokenSecret.parse("aj__\(secret)") == nil, "no id")
        #expect(TokenSecret.parse("aj_0g_\(secret)") == nil, "not hex")
        #expect(TokenSecret.parse("aj_０_\(secret)") == nil, "a full-width digit")
        #expect(TokenSecret.parse("ak_0F_\(secret)") == nil, "another prefix")
        #expect(TokenSecret.parse("aj_0F_\(secret)_") == nil, "four parts")
    }
}

@Suite("Decoded text cache")
struct DecodedTextCacheTests {
    @Test("a text decodes to what JSONDecoder gives, from the cache too; a bad text throws every time; the bound holds")
    func decodesLikeJSONDecoder() throws {
        let cache = DecodedTextCache<JobConfig>(limit: 2)
        let texts = (0..<5).map { index in
            #"{"max_follow_ups":\#(index),"max_task_retries":1,"max_time_to_complete":60,"task_retry_interval":0.5}"#
        }
        for text in texts + texts.reversed() + texts {
            let expected = try JSONDecoder().decode(JobConfig.self, from: Data(text.utf8))
            #expect(try cache.decode(text) == expected)
            #expect(try cache.decode(text) == expected, "the cached value")
        }
        #expect(throws: DecodingError.self) { try cache.decode(#"{"max_follow_ups":"x"}"#) }
        #expect(throws: DecodingError.self) { try cache.decode(#"{"max_follow_ups":"x"}"#) }
    }

    @Test("progress tokens: 32 random bytes as 64 hex digits, each one new, hashed as stored")
    func progressTokens() {
        let tokens = (0..<200).map { _ in ProgressToken.generate() }
        #expect(Set(tokens.map(\.token)).count == tokens.count)
        for (token, hash) in tokens {
            #expect(token.hasPrefix("ajp_") && token.count == 4 + 64)
            #expect(token.dropFirst(4).allSatisfy { $0.isHexDigit })
            #expect(hash == ProgressToken.hash(token))
        }
        // Every hex digit turns up over 200 tokens (no byte stuck at one value).
        let distinct = Set(tokens.flatMap { Array($0.token.dropFirst(4)) })
        #expect(distinct.count == 16)
    }
}

@Suite("Hex, hashes and integers written by hand")
struct HandWrittenEncodingTests {
    @Test("JSONWriter writes any integer as its decimal description")
    func integers() async {
        for value in [0, 1, -1, 9, -9, 10, -10, 99, 100, Int.max, Int.min, Int.min + 1, 1_000_000] {
            var writer = JSONWriter()
            writer.integer(value)
            #expect(writer.text == String(value))
        }
        await propertyCheck(count: 2000, input: Gen.int(in: Int.min...Int.max)) { value in
            var writer = JSONWriter()
            writer.integer(value)
            #expect(writer.text == String(value))
        }
    }

    @Test("hex and SHA-256 as hex: the standard's test vectors")
    func hexAndHash() {
        #expect(TokenSecret.hex([0x00, 0x0F, 0xA5, 0xFF]) == "000fa5ff")
        #expect(TokenSecret.hex([UInt8]()) == "")
        #expect(TokenSecret.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(TokenSecret.sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ProgressToken.hash("ajp_x") == TokenSecret.sha256Hex("ajp_x"))
    }
}
