/// A dotenv file read the way the common loaders (python-dotenv, dotenv for
/// Node and Ruby) read it: `#` comments, an optional `export ` prefix,
/// unquoted values (a ` #` starts a comment), single quotes (literal),
/// double quotes (`\n`, `\t`, `\"`, `\\` escapes), quoted values over
/// several lines; a name set twice keeps the last value, with a warning.
/// Values are `SecretString`s; errors and warnings name lines and
/// variables, never values.
public struct DotEnv: Sendable {
    public struct Variable: Sendable {
        public var name: String
        public var value: SecretString
        /// Where the (last) assignment starts.
        public var line: Int
    }

    /// In the order of first appearance.
    public private(set) var variables: [Variable] = []
    public private(set) var warnings: [String] = []

    public struct ParseError: Error, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public init(parsing text: String) throws(ParseError) {
        var reader = Reader(Array(text.unicodeScalars))
        while let assignment = try reader.next() {
            if let index = variables.firstIndex(where: { $0.name == assignment.name }) {
                warnings.append("\(assignment.name) is set on line \(variables[index].line) and again on line \(assignment.line): "
                                + "the last one wins")
                variables[index].value = assignment.value
                variables[index].line = assignment.line
            } else {
                variables.append(assignment)
            }
        }
    }

    public subscript(name: String) -> SecretString? { variables.first { $0.name == name }?.value }

    /// Reads assignments one by one over the file's scalars.
    private struct Reader {
        let text: [Unicode.Scalar]
        var index = 0
        var line = 1

        init(_ text: [Unicode.Scalar]) { self.text = text }

        var current: Unicode.Scalar? { index < text.count ? text[index] : nil }

        mutating func advance() {
            if current == "\n" { line += 1 }
            index += 1
        }

        mutating func skip(while predicate: (Unicode.Scalar) -> Bool) {
            while let scalar = current, predicate(scalar) { advance() }
        }

        mutating func skipToLineEnd() { skip { $0 != "\n" } }

        mutating func next() throws(ParseError) -> Variable? {
            while true {
                skip { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
                guard let scalar = current else { return nil }
                if scalar == "#" { skipToLineEnd(); continue }
                return try assignment()
            }
        }

        mutating func assignment() throws(ParseError) -> Variable {
            let start = line
            var name = word()
            if name == "export", current == " " || current == "\t" {
                skip { $0 == " " || $0 == "\t" }
                name = word()
            }
            guard let first = name.unicodeScalars.first, first == "_" || first.properties.isAlphabetic,
                  name.unicodeScalars.allSatisfy({ $0.isASCII && ($0 == "_" || $0 == "." || $0 == "-" || $0.properties.isAlphabetic
                                                                   || $0.properties.numericType != nil) }) else {
                throw ParseError(line: start, message: "expected NAME=value")
            }
            skip { $0 == " " || $0 == "\t" }
            // The word is not echoed: a line without `=` may be a value wrapped onto a line of its own.
            guard current == "=" else { throw ParseError(line: start, message: "expected = after the first word (NAME=value)") }
            advance()
            skip { $0 == " " || $0 == "\t" }
            let value: String
            switch current {
            case "'": value = try quoted(name, start: start, escapes: false)
            case "\"": value = try quoted(name, start: start, escapes: true)
            default: value = unquoted()
            }
            return Variable(name: name, value: SecretString(value), line: start)
        }

        mutating func word() -> String {
            var word = ""
            while let scalar = current, scalar != "=", scalar != " ", scalar != "\t", scalar != "\n" {
                word.unicodeScalars.append(scalar)
                advance()
            }
            return word
        }

        /// Up to the line's end or a ` #` comment, trailing blanks dropped.
        mutating func unquoted() -> String {
            var value = ""
            while let scalar = current, scalar != "\n" {
                if scalar == "#", value.isEmpty || value.unicodeScalars.last == " " || value.unicodeScalars.last == "\t" { break }
                value.unicodeScalars.append(scalar)
                advance()
            }
            skipToLineEnd()
            while let last = value.unicodeScalars.last, last == " " || last == "\t" || last == "\r" { value.unicodeScalars.removeLast() }
            return value
        }

        /// A quoted value, possibly over several lines; then only blanks or a comment on its last line.
        mutating func quoted(_ name: String, start: Int, escapes: Bool) throws(ParseError) -> String {
            let quote = current!
            advance()
            var value = ""
            while true {
                guard let scalar = current else {
                    throw ParseError(line: start, message: "\(name): the quote opened here is never closed")
                }
                advance()
                if scalar == quote { break }
                if escapes, scalar == "\\", let next = current {
                    advance()
                    switch next {
                    case "n": value += "\n"
                    case "r": value += "\r"
                    case "t": value += "\t"
                    case "\"", "\\", "$": value.unicodeScalars.append(next)
                    default: value += "\\"; value.unicodeScalars.append(next)
                    }
                    continue
                }
                value.unicodeScalars.append(scalar)
            }
            skip { $0 == " " || $0 == "\t" || $0 == "\r" }
            guard current == nil || current == "\n" || current == "#" else {
                throw ParseError(line: line, message: "\(name): unexpected text after the closing quote")
            }
            skipToLineEnd()
            return value
        }
    }
}
