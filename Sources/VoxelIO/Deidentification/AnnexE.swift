/// DICOM PS3.15 Annex E, Table E.1-1: the attributes the Basic Application Level Confidentiality Profile
/// acts on, with the action of its Basic Profile column. The rows live in `AnnexETable.swift`, generated from
/// the table (`scripts/oracles/export_annex_e_table.py`); attributes that are not listed are retained.
public enum AnnexE {
    /// An action code of Table E.1-1.
    public enum Action: String, Sendable, CaseIterable {
        /// D: replace with a non-empty dummy value consistent with the VR.
        case d = "D"
        /// Z: replace with an empty value (or a dummy).
        case z = "Z"
        /// X: remove.
        case x = "X"
        /// U: replace with a non-empty UID that is consistent within the set of instances.
        case u = "U"
        /// Z/D: Z unless D is needed for the IOD to stay valid.
        case zd = "Z/D"
        /// X/Z: X unless Z is needed.
        case xz = "X/Z"
        /// X/D: X unless D is needed.
        case xd = "X/D"
        /// X/Z/D: X unless Z or D is needed.
        case xzd = "X/Z/D"
        /// X/Z/U*: X unless Z or a replacement is needed; UIDs inside the sequence are replaced (U).
        case xzu = "X/Z/U*"
    }

    /// One row of the table. A row with masks stands for a repeating group: a tag matches when
    /// `tag.group & groupMask == group` and `tag.element & elementMask == element` (e.g. curve data, 50xx,xxxx).
    public struct Row: Sendable, Equatable {
        /// The group number (with the masked bits zero).
        public let group: UInt16
        /// The element number (with the masked bits zero).
        public let element: UInt16
        /// Bits of the group that must match (0xFFFF for an ordinary attribute).
        public let groupMask: UInt16
        /// Bits of the element that must match.
        public let elementMask: UInt16
        /// The Basic Profile action.
        public let action: Action
        /// The attribute's name in the standard.
        public let name: String

        /// Creates a row.
        public init(group: UInt16, element: UInt16, groupMask: UInt16 = 0xFFFF, elementMask: UInt16 = 0xFFFF, action: Action, name: String) {
            self.group = group
            self.element = element
            self.groupMask = groupMask
            self.elementMask = elementMask
            self.action = action
            self.name = name
        }

        /// True when the row applies to (group, element).
        public func matches(group g: UInt16, element e: UInt16) -> Bool {
            g & groupMask == group && e & elementMask == element
        }
    }

    private static let exact: [UInt32: Row] = {
        var table: [UInt32: Row] = [:]
        for row in rows where row.groupMask == 0xFFFF && row.elementMask == 0xFFFF {
            table[UInt32(row.group) << 16 | UInt32(row.element)] = row
        }
        return table
    }()

    private static let masked: [Row] = rows.filter { $0.groupMask != 0xFFFF || $0.elementMask != 0xFFFF }

    /// The row for an attribute, or nil when the table does not list it (the attribute is retained).
    public static func row(group: UInt16, element: UInt16) -> Row? {
        if let row = exact[UInt32(group) << 16 | UInt32(element)] { return row }
        return masked.first { $0.matches(group: group, element: element) }
    }
}
