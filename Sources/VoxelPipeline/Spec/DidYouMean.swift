import VoxelCore
/// Suggestions for misspelt keys, stage types and ids.
enum DidYouMean {
    /// `" (did you mean \"x\"?)"` for the closest candidate within a small edit distance, or "".
    static func suffix(_ word: String, among candidates: [String]) -> String {
        guard let best = closest(word, among: candidates) else { return "" }
        return " (did you mean \"\(best)\"?)"
    }

    /// The candidate with the smallest case-insensitive edit distance, if it is close enough
    /// (at most a third of the word's length, and at least 1).
    static func closest(_ word: String, among candidates: [String]) -> String? {
        let limit = max(1, word.count / 3)
        let w = Array(word.lowercased())
        var best: (String, Int)?
        for c in candidates.sorted() {
            let d = distance(w, Array(c.lowercased()))
            if d <= limit && d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best?.0
    }

    /// Edit distance counting insertions, deletions, substitutions and swaps of adjacent characters
    /// (optimal string alignment), so "nifit" is one edit from "nifti".
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
