import Foundation
import Mechanic

/// One template of a pair dataset: the clean prompt with `[SLOT]`s and, optionally, a different
/// corrupt prompt over the same (or additional) slots. JSON: a string, or
/// `{"clean": …, "corrupt": …, "name": …}`.
public struct PairTemplate: Sendable, Equatable, Decodable {
    public var clean: String
    /// nil: the corrupt prompt is the clean template (filled after the spec's `swap`).
    public var corrupt: String?
    public var name: String?

    public init(clean: String, corrupt: String? = nil, name: String? = nil) {
        self.clean = clean
        self.corrupt = corrupt
        self.name = name
    }

    enum CodingKeys: String, CodingKey { case clean, corrupt, name }

    public init(from decoder: Decoder) throws {
        if let s = try? decoder.singleValueContainer().decode(String.self) {
            self.init(clean: s)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(clean: try c.decode(String.self, forKey: .clean), corrupt: try c.decodeIfPresent(String.self, forKey: .corrupt),
                  name: try c.decodeIfPresent(String.self, forKey: .name))
    }
}

/// Where a slot's values come from: a named list of the spec, or its own values.
public enum SlotSource: Sendable, Equatable, Decodable {
    case list(String)
    case values([String])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let name = try? c.decode(String.self) { self = .list(name) } else { self = .values(try c.decode([String].self)) }
    }
}

/// A template-based pair dataset. For each pair a template is drawn, every slot it (and the
/// answer/wrong strings) mentions is filled — slots drawing from the same list get *different*
/// values — and the corrupt prompt is the corrupt template (or the clean one) filled with the same
/// values after exchanging the `swap` pairs. JSON:
///
/// ```json
/// {"lists": {"NAME": ["Mary", "John", "Anne"], "PLACE": ["store", "park"]},
///  "templates": ["When [A] and [B] went to the [PLACE], [B] gave a drink to"],
///  "slots": {"A": "NAME", "B": "NAME"},
///  "answer": " [A]", "wrong": " [B]",
///  "swap": [["A", "B"]]}
/// ```
///
/// A slot not named in `slots` reads the list of its own name (`[PLACE]` → `lists.PLACE`); a
/// `slots` entry may also hold its own array of values.
public struct PairTemplateSpec: Sendable, Equatable, Decodable {
    public var lists: [String: [String]]
    public var templates: [PairTemplate]
    public var slots: [String: SlotSource]
    /// The clean prompt's expected completion, with slots (e.g. `" [A]"`: note the space).
    public var answer: String
    /// The competing completion, with slots.
    public var wrong: String
    /// Slot pairs exchanged to build the corrupt fill.
    public var swap: [[String]]

    public init(lists: [String: [String]], templates: [PairTemplate], slots: [String: SlotSource] = [:], answer: String,
                wrong: String, swap: [[String]] = []) {
        self.lists = lists
        self.templates = templates
        self.slots = slots
        self.answer = answer
        self.wrong = wrong
        self.swap = swap
    }

    enum CodingKeys: String, CodingKey { case lists, templates, slots, answer, wrong, swap }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(lists: try c.decodeIfPresent([String: [String]].self, forKey: .lists) ?? [:],
                  templates: try c.decode([PairTemplate].self, forKey: .templates),
                  slots: try c.decodeIfPresent([String: SlotSource].self, forKey: .slots) ?? [:],
                  answer: try c.decode(String.self, forKey: .answer), wrong: try c.decode(String.self, forKey: .wrong),
                  swap: try c.decodeIfPresent([[String]].self, forKey: .swap) ?? [])
    }

    /// Parses and validates a JSON spec; errors name the key or slot at fault.
    public static func parse(json data: Data) throws -> PairTemplateSpec {
        let spec: PairTemplateSpec
        do { spec = try JSONDecoder().decode(PairTemplateSpec.self, from: data) } catch let DecodingError.keyNotFound(key, _) {
            throw MechanicError.invalidArgument("the template spec needs \"\(key.stringValue)\" (keys: templates, answer, wrong; optional lists, slots, swap)")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            throw MechanicError.invalidArgument("the template spec has a value of the wrong type at \"\(key)\" (keys: templates, answer, wrong; optional lists, slots, swap)")
        } catch {
            throw MechanicError.invalidArgument("the template spec is not valid JSON of the documented form (keys: templates, answer, wrong; optional lists, slots, swap)")
        }
        try spec.validate()
        return spec
    }

    /// Checks that every slot has values, that slots sharing a list can be distinct, and the swaps.
    public func validate() throws {
        guard !templates.isEmpty else { throw MechanicError.emptyInput("the template spec has no templates") }
        for (i, t) in templates.enumerated() {
            let used = slotsUsed(by: t)
            var perList: [String: Int] = [:]
            for slot in used {
                let (key, values) = try source(of: slot)
                guard !values.isEmpty else { throw MechanicError.emptyInput("slot [\(slot)] (list \(key)) has no values") }
                perList[key, default: 0] += 1
                if perList[key, default: 0] > values.count {
                    throw MechanicError.invalidArgument("template \(i) needs \(perList[key] ?? 0) different values from list \(key), which has \(values.count)")
                }
            }
        }
        for pair in swap {
            guard pair.count == 2 else { throw MechanicError.invalidArgument("swap entries are pairs of slot names, got \(pair)") }
        }
    }

    /// The slot names of a text, in order of appearance (`[A]` → `A`); a slot is `[` + an uppercase
    /// letter + uppercase letters, digits or `_` + `]`.
    public static func slotNames(in text: String) -> [String] {
        var out: [String] = []
        var current: String?
        for ch in text {
            if ch == "[" { current = ""; continue }
            guard var name = current else { continue }
            if ch == "]" {
                if let first = name.first, first.isUppercase, first.isASCII { out.append(name) }
                current = nil
            } else if (ch.isASCII && (ch.isUppercase || ch.isNumber)) || ch == "_" {
                name.append(ch)
                current = name
            } else {
                current = nil
            }
        }
        return out
    }

    /// `text` with each `[SLOT]` in `fill` replaced by its value.
    /// One left-to-right pass: values are never re-scanned, so a value holding brackets stays as it is.
    public static func fill(_ text: String, _ fill: [String: String]) -> String {
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == "[", let close = text[i...].firstIndex(of: "]"),
               let value = fill[String(text[text.index(after: i)..<close])] {
                out += value
                i = text.index(after: close)
                continue
            }
            out.append(text[i])
            i = text.index(after: i)
        }
        return out
    }

    /// Every slot a template's prompts, the answer and the wrong string use, sorted by name (the
    /// order values are drawn in, so that output never depends on dictionary order).
    func slotsUsed(by t: PairTemplate) -> [String] {
        let texts = [t.clean, t.corrupt ?? "", answer, wrong]
        return Array(Set(texts.flatMap(Self.slotNames) + swap.flatMap { $0 })).sorted()
    }

    /// The list a slot draws from: its key (for distinctness) and values.
    func source(of slot: String) throws -> (key: String, values: [String]) {
        switch slots[slot] {
        case .values(let v): return ("[\(slot)]", v)
        case .list(let name):
            guard let v = lists[name] else { throw MechanicError.invalidArgument("slot [\(slot)] reads list \"\(name)\", which the spec does not define") }
            return (name, v)
        case nil:
            guard let v = lists[slot] else {
                throw MechanicError.invalidArgument("slot [\(slot)] has no values: add \"\(slot)\" to lists, or map it in slots")
            }
            return (slot, v)
        }
    }
}
