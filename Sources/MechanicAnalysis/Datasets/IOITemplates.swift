/// The indirect-object-identification task of Wang et al. (2022): "When Mary and John went to the
/// store, John gave a drink to" → " Mary" (the indirect object, IO) rather than " John" (the
/// subject, S). Built-in names, places and objects (every name is one GPT-2 token with its leading
/// space), ABBA and BABA templates, and the paper's corruptions.
public enum IOIDataset {
    /// Name order in the first clause: ABBA = IO first ("When Mary and John …, John gave … to"),
    /// BABA = S first ("When John and Mary …, John gave … to").
    public enum Order: String, Sendable, CaseIterable { case abba, baba, both }

    /// How the corrupt prompt is made.
    public enum Corruption: String, Sendable, CaseIterable {
        /// The IOI paper's ABC distribution: the same sentence with all three name positions
        /// replaced by three fresh, different names ("When Anne and Paul …, Kate gave … to") — no
        /// name is repeated, so the task's information is gone.
        case abc
        /// The two names exchanged everywhere ("When John and Mary …, Mary gave … to"): the
        /// corrupt prompt's answer is the clean prompt's wrong token.
        case swap
    }

    public static let names = [
        "Mary", "John", "Tom", "James", "Dan", "Sid", "Martin", "Amy", "Kate", "Paul", "Anne", "Lisa", "Mark", "Sarah",
        "David", "Michael", "Robert", "William", "Richard", "Joseph", "Thomas", "Charles", "Daniel", "Matthew", "Anthony",
        "Steven", "Andrew", "Joshua", "Kevin", "Brian", "George", "Edward", "Ryan", "Jacob", "Gary", "Eric", "Laura",
        "Emily", "Emma", "Rachel", "Jessica", "Jennifer", "Susan", "Alice", "Bob", "Adam", "Alex", "Alan", "Alicia",
        "Andre", "Andy", "Ben", "Betty", "Bill", "Carl", "Chris", "Claire", "Craig", "Crystal", "Dean", "Diana", "Eve",
        "Frank", "Grace", "Harry", "Helen", "Ian", "Jack", "Jane", "Jason", "Jeff", "Jenny", "Jim", "Joe", "Julia",
        "Karen", "Kelly", "Kyle", "Leo", "Lucy", "Luke", "Maria", "Max", "Mike", "Nancy", "Nick", "Nina", "Oliver",
        "Patrick", "Peter", "Rose", "Ruth", "Sam", "Sean", "Simon", "Sophie", "Steve", "Tim", "Tony", "Victor", "Victoria",
    ]
    public static let places = [
        "store", "garden", "restaurant", "school", "hospital", "office", "house", "station", "park", "market", "library",
        "church", "beach", "cafe", "museum", "theater",
    ]
    public static let objects = [
        "ring", "kiss", "bone", "basketball", "computer", "necklace", "drink", "snack", "book", "ball", "key", "letter",
        "gift", "flower", "cake",
    ]

    /// ABBA templates (IO = [A], S = [B]); the prompt ends where the IO is predicted.
    public static let abbaTemplates = [
        "When [A] and [B] went to the [PLACE], [B] gave a [OBJECT] to",
        "Then, [A] and [B] went to the [PLACE]. [B] gave a [OBJECT] to",
        "Then, [A] and [B] had a lot of fun at the [PLACE]. [B] gave a [OBJECT] to",
        "Then, [A] and [B] were working at the [PLACE]. [B] decided to give a [OBJECT] to",
        "After [A] and [B] went to the [PLACE], [B] gave a [OBJECT] to",
        "While [A] and [B] were working at the [PLACE], [B] gave a [OBJECT] to",
        "Friends [A] and [B] found a [OBJECT] at the [PLACE]. [B] gave it to",
        "When [A] and [B] got a [OBJECT] at the [PLACE], [B] decided to give it to",
    ]

    /// BABA templates: the same sentences with the first two names in the other order.
    public static var babaTemplates: [String] {
        abbaTemplates.map { t in
            t.replacingOccurrences(of: "[A] and [B]", with: "[B] and [A]")
        }
    }

    /// The ABC version of a template: the name positions, in order, become [X], [Y], [Z].
    static func abcTemplate(_ t: String) -> String {
        var out = ""
        var rest = Substring(t)
        var fresh = ["X", "Y", "Z"].makeIterator()
        while let next = [rest.range(of: "[A]"), rest.range(of: "[B]")].compactMap({ $0 }).min(by: { $0.lowerBound < $1.lowerBound }) {
            out += rest[..<next.lowerBound]
            out += "[\(fresh.next() ?? "Z")]"
            rest = rest[next.upperBound...]
        }
        return out + rest
    }

    /// The dataset as a template spec: answer `" [A]"`, wrong `" [B]"`.
    public static func spec(order: Order = .both, corruption: Corruption = .abc) -> PairTemplateSpec {
        let clean: [(String, String)] = {
            switch order {
            case .abba: return abbaTemplates.enumerated().map { ("ABBA-\($0.offset)", $0.element) }
            case .baba: return babaTemplates.enumerated().map { ("BABA-\($0.offset)", $0.element) }
            case .both:
                return abbaTemplates.enumerated().map { ("ABBA-\($0.offset)", $0.element) }
                    + babaTemplates.enumerated().map { ("BABA-\($0.offset)", $0.element) }
            }
        }()
        let templates = clean.map { name, t in
            PairTemplate(clean: t, corrupt: corruption == .abc ? abcTemplate(t) : nil, name: name)
        }
        let nameSlots: [String: SlotSource] = Dictionary(uniqueKeysWithValues: ["A", "B", "X", "Y", "Z"].map { ($0, .list("NAME")) })
        return PairTemplateSpec(lists: ["NAME": names, "PLACE": places, "OBJECT": objects], templates: templates, slots: nameSlots,
                                answer: " [A]", wrong: " [B]", swap: corruption == .swap ? [["A", "B"]] : [])
    }
}
