internal import CYAML

/// A YAML document as a tree with line numbers, composed from libyaml's
/// parser events. Only what configuration files need: mappings, sequences
/// and scalars as text; aliases are kept as such so they can be refused by
/// name.
indirect enum YAMLNode {
    case scalar(String, plain: Bool, line: Int)
    case mapping([(key: YAMLNode, value: YAMLNode)], line: Int)
    case sequence([YAMLNode], line: Int)
    case alias(line: Int)

    /// 1-based line where the node starts.
    var line: Int {
        switch self {
        case .scalar(_, _, let line), .mapping(_, let line), .sequence(_, let line), .alias(let line): line
        }
    }

    var scalarText: String? {
        if case .scalar(let text, _, _) = self { text } else { nil }
    }

    /// A plain empty, `~` or `null` scalar: "no value" in YAML.
    var isNull: Bool {
        if case .scalar(let text, plain: true, _) = self { ["", "~", "null", "Null", "NULL"].contains(text) } else { false }
    }

    /// A syntax error: libyaml's description and its 1-based position.
    struct SyntaxError: Error, CustomStringConvertible {
        var line: Int
        var column: Int
        var problem: String

        var description: String { "line \(line), column \(column): \(problem)" }
    }

    /// The document in `text`, or nil for an empty stream.
    static func parse(_ text: String) throws(SyntaxError) -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else { throw SyntaxError(line: 0, column: 0, problem: "out of memory") }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(SyntaxError) in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var composer = Composer()
            var root: YAMLNode?
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) != 0 else { throw Self.error(parser, text: text) }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return root
                case YAML_DOCUMENT_START_EVENT where root != nil:
                    // A second document would be silently ignored otherwise.
                    throw SyntaxError(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1,
                                      problem: "a second YAML document; the file must hold one")
                default:
                    if let document = try composer.add(event) { root = document }
                }
            }
        }
    }

    /// libyaml's words, and the plain cause when the line holds a tab (libyaml only says "cannot start any token").
    private static func error(_ parser: yaml_parser_t, text: String) -> SyntaxError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { String(cString: $0) + " " } ?? ""
        let line = Int(parser.problem_mark.line) + 1
        let tab = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(line - 1).first?.contains("\t") == true
        return SyntaxError(line: line, column: Int(parser.problem_mark.column) + 1,
                           problem: context + problem + (tab ? " (a tab: YAML indents with spaces only; replace the tabs on this line)" : ""))
    }
}

/// Builds nodes from the event stream with a stack of open collections.
/// Nesting is capped: a configuration never needs more than a few levels,
/// and a crafted file must get an error, not exhaust the stack when the
/// tree is walked or freed.
private struct Composer {
    static let maxDepth = 32

    private enum Open {
        case mapping([(key: YAMLNode, value: YAMLNode)], pendingKey: YAMLNode?, line: Int)
        case sequence([YAMLNode], line: Int)
    }

    private var stack: [Open] = []

    /// Feeds one event; returns the document once its root is complete.
    mutating func add(_ event: yaml_event_t) throws(YAMLNode.SyntaxError) -> YAMLNode? {
        let line = Int(event.start_mark.line) + 1
        if event.type == YAML_MAPPING_START_EVENT || event.type == YAML_SEQUENCE_START_EVENT, stack.count == Self.maxDepth {
            throw YAMLNode.SyntaxError(line: line, column: Int(event.start_mark.column) + 1,
                                       problem: "nested deeper than \(Self.maxDepth) levels")
        }
        switch event.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            return attach(.scalar(text, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE, line: line))
        case YAML_ALIAS_EVENT:
            return attach(.alias(line: line))
        case YAML_MAPPING_START_EVENT:
            stack.append(.mapping([], pendingKey: nil, line: line))
        case YAML_SEQUENCE_START_EVENT:
            stack.append(.sequence([], line: line))
        case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
            switch stack.removeLast() {
            case .mapping(let pairs, _, let line): return attach(.mapping(pairs, line: line))
            case .sequence(let items, let line): return attach(.sequence(items, line: line))
            }
        default:
            break
        }
        return nil
    }

    /// Adds a finished node to the innermost collection; returns it when it is the root.
    private mutating func attach(_ node: YAMLNode) -> YAMLNode? {
        guard let top = stack.popLast() else { return node }
        switch top {
        case .mapping(var pairs, let key?, let line):
            pairs.append((key, node))
            stack.append(.mapping(pairs, pendingKey: nil, line: line))
        case .mapping(let pairs, nil, let line):
            stack.append(.mapping(pairs, pendingKey: node, line: line))
        case .sequence(var items, let line):
            items.append(node)
            stack.append(.sequence(items, line: line))
        }
        return nil
    }
}
