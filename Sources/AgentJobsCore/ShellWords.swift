/// Splits a command line into words the way a POSIX shell does for simple cases:
/// whitespace separates words, single quotes keep everything literal, double quotes keep
/// whitespace, and a backslash escapes the next character. No expansion of any kind.
public enum ShellWords {
    /// The words of `text`; `nil` when a quote is left open.
    public static func split(_ text: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            switch character {
            case "'":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "'" {
                        closed = true
                        break
                    }
                    current.append(next)
                }
                if !closed { return nil }
            case "\"":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "\"" {
                        closed = true
                        break
                    }
                    if next == "\\", let escaped = iterator.next() {
                        current.append(escaped)
                    } else {
                        current.append(next)
                    }
                }
                if !closed { return nil }
            case "\\":
                inWord = true
                if let escaped = iterator.next() { current.append(escaped) }
            case " ", "\t", "\n":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            default:
                inWord = true
                current.append(character)
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// `word` quoted so that `split` reads it back as one word (plain words stay as they are).
    public static func quote(_ word: String) -> String {
        let plain =
            !word.isEmpty
            && word.unicodeScalars.allSatisfy {
                ($0.properties.isAlphabetic && $0.isASCII) || "0123456789-_./=:@%+,".unicodeScalars.contains($0)
            }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
