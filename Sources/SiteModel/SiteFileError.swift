// Every problem found in a site file, each with its position and key path, printed the way compilers print
// diagnostics (`FILE:LINE:COLUMN: KEY: MESSAGE`) so editors and people can jump to it.

/// All the problems `SiteLoader` found in one site file (it never stops at the first).
public struct SiteFileError: Error, CustomStringConvertible, Sendable {
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        public var file: String
        /// 1-based; 0 when the problem concerns the whole file (it could not be read).
        public var line: Int
        /// 1-based, counted in Unicode scalars (libyaml's count); 0 with `line`.
        public var column: Int
        /// Where in the document: `hosts[1].state`, `maintenance_ports[0].windows[0]`; empty for the document
        /// itself (YAML syntax errors, a root that is not a mapping, an unreadable file).
        public var key: String
        public var message: String

        public init(file: String, line: Int, column: Int, key: String, message: String) {
            self.file = file
            self.line = line
            self.column = column
            self.key = key
            self.message = message
        }

        /// `FILE:LINE:COLUMN: KEY: MESSAGE`; the position is left out when there is none, the key when it is empty.
        public var description: String {
            var text = file
            if line > 0 { text += ":\(line):\(column)" }
            text += ": "
            if !key.isEmpty { text += key + ": " }
            return text + message
        }
    }

    /// In file order (line, then column).
    public var problems: [Problem]

    public init(problems: [Problem]) {
        self.problems = problems
    }

    /// One line per problem.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
