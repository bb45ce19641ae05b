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
        /// A warning: the file is used as it is, but may not say what its author meant (printed by check-site and at
        /// the start of replay and live; `check-site --strict` refuses it).
        public var isWarning: Bool

        public init(file: String, line: Int, column: Int, key: String, message: String, isWarning: Bool = false) {
            self.file = file
            self.line = line
            self.column = column
            self.key = key
            self.message = message
            self.isWarning = isWarning
        }

        /// `FILE:LINE:COLUMN: KEY: MESSAGE` (`FILE:LINE:COLUMN: warning: KEY: MESSAGE` for a warning); the position
        /// is left out when there is none, the key when it is empty.
        /// One line whatever the file holds: the path, keys and values quoted in the message are escaped
        /// (`DisplayText`), so a hostile value cannot forge a line of its own; and bounded, so a megabyte-long key or
        /// value quoted in a message shows as its first kilobyte.
        public var description: String {
            var text = DisplayText.escaped(file, maximumBytes: 4096)
            if line > 0 { text += ":\(line):\(column)" }
            text += ": "
            if isWarning { text += "warning: " }
            if !key.isEmpty { text += DisplayText.escaped(key, maximumBytes: 512) + ": " }
            return text + DisplayText.escaped(message, maximumBytes: 1024)
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
