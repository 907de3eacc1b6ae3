/// Closed planar contours of the labels of one slice, and the reverse: which pixels closed polygons cover.
///
/// Coordinates are continuous pixel indices (column, row): pixel (i, j) has its centre at (i, j) and covers
/// [i − ½, i + ½] × [j − ½, j + ½]. A traced contour joins the midpoints of the pixel edges that separate a
/// label from anything else, so it runs half a pixel from the centres on either side (the iso-line at ½ of
/// the label's indicator, as marching squares draws it): every pixel centre of the label lies inside and every
/// other centre outside, and filling the contours with the even–odd rule gives the label back exactly.
/// Outer boundaries run clockwise on screen (rows downwards), holes anticlockwise; pixels that touch only
/// at a corner are joined into one contour.
public enum SliceContours {
    /// The contours of every non-zero label of a slice of `columns` × `rows` values (row after row), by label.
    public static func trace(_ slice: UnsafeBufferPointer<UInt16>, columns nx: Int, rows ny: Int) -> [Int: [[SIMD2<Double>]]] {
        // Directed boundary edges between pixel corners (corner (cx, cy) has index cy * (nx + 1) + cx),
        // clockwise around each pixel of the label, kept where the neighbour across the edge differs.
        var edges: [Int: [(from: Int, to: Int)]] = [:]
        let stride = nx + 1
        for j in 0..<ny {
            for i in 0..<nx {
                let label = slice[j * nx + i]
                guard label != 0 else { continue }
                let tl = j * stride + i, tr = tl + 1, bl = tl + stride, br = bl + 1
                var list = edges[Int(label)] ?? []
                if j == 0 || slice[(j - 1) * nx + i] != label { list.append((tl, tr)) }
                if i == nx - 1 || slice[j * nx + i + 1] != label { list.append((tr, br)) }
                if j == ny - 1 || slice[(j + 1) * nx + i] != label { list.append((br, bl)) }
                if i == 0 || slice[j * nx + i - 1] != label { list.append((bl, tl)) }
                edges[Int(label)] = list
            }
        }
        var result: [Int: [[SIMD2<Double>]]] = [:]
        for (label, list) in edges { result[label] = link(list, stride: stride) }
        return result
    }

    /// Joins directed edges into closed loops and returns them as polygons through the edges' midpoints,
    /// without points that lie on a straight run.
    static func link(_ edges: [(from: Int, to: Int)], stride: Int) -> [[SIMD2<Double>]] {
        var outgoing: [Int: [Int]] = [:]
        for (n, e) in edges.enumerated() { outgoing[e.from, default: []].append(n) }
        var used = [Bool](repeating: false, count: edges.count)
        func point(_ corner: Int) -> SIMD2<Double> { SIMD2(Double(corner % stride), Double(corner / stride)) }
        var polygons: [[SIMD2<Double>]] = []
        for start in edges.indices where !used[start] {
            var loop: [SIMD2<Double>] = []
            var e = start
            while !used[e] {
                used[e] = true
                let a = point(edges[e].from), b = point(edges[e].to)
                loop.append((a + b) / 2 - SIMD2(0.5, 0.5))
                let candidates = (outgoing[edges[e].to] ?? []).filter { !used[$0] }
                guard let first = candidates.first else { break }
                if candidates.count == 1 {
                    e = first
                } else {
                    // A corner where the label touches itself diagonally: turn left (on screen), which keeps
                    // the two pixels in one contour.
                    let incoming = b - a
                    e = candidates.first { c in
                        let d = point(edges[c].to) - point(edges[c].from)
                        return incoming.x * d.y - incoming.y * d.x < 0
                    } ?? first
                }
            }
            polygons.append(simplified(loop))
        }
        return polygons
    }

    /// `loop` without the points that lie on the straight line through their neighbours.
    static func simplified(_ loop: [SIMD2<Double>]) -> [SIMD2<Double>] {
        guard loop.count > 3 else { return loop }
        var kept: [SIMD2<Double>] = []
        for n in loop.indices {
            let p = loop[(n + loop.count - 1) % loop.count], q = loop[n], r = loop[(n + 1) % loop.count]
            let u = q - p, v = r - q
            if u.x * v.y - u.y * v.x != 0 { kept.append(q) }
        }
        return kept.count >= 3 ? kept : loop
    }

    /// Pixels of a `columns` × `rows` slice whose centres lie inside `polygons` by the even–odd rule (a
    /// point inside two polygons — a hole in an outline — is outside), or on a polygon's boundary (within
    /// 0.001 pixel, as OpenCV's fillPoly counts edges: contours drawn through the centres of a mask's edge
    /// pixels, as many tools write them, give that mask back). Polygons of one or two points cover the pixels
    /// their points and segment pass through the centres of. Contours traced by `trace` never pass through a
    /// centre. Row after row, true where covered.
    public static func fill(_ polygons: [[SIMD2<Double>]], columns nx: Int, rows ny: Int) -> [Bool] {
        var covered = [Bool](repeating: false, count: nx * ny)
        var segments: [(SIMD2<Double>, SIMD2<Double>)] = []
        for polygon in polygons where !polygon.isEmpty {
            for n in polygon.indices { segments.append((polygon[n], polygon[(n + 1) % polygon.count])) }
        }
        guard !segments.isEmpty else { return covered }
        let tolerance = 1e-3
        // Pixel centres on the boundary.
        func mark(_ x: Double, _ y: Double) {
            let i = Int(x.rounded()), j = Int(y.rounded())
            if abs(x - Double(i)) < tolerance, abs(y - Double(j)) < tolerance, i >= 0, i < nx, j >= 0, j < ny { covered[j * nx + i] = true }
        }
        for (p, q) in segments {
            mark(p.x, p.y)
            if abs(q.y - p.y) >= abs(q.x - p.x) {
                guard abs(q.y - p.y) > tolerance else { continue }
                let from = Int((min(p.y, q.y) - tolerance).rounded(.up)), to = Int((max(p.y, q.y) + tolerance).rounded(.down))
                if from <= to { for j in from...to { mark(p.x + (Double(j) - p.y) * (q.x - p.x) / (q.y - p.y), Double(j)) } }
            } else {
                let from = Int((min(p.x, q.x) - tolerance).rounded(.up)), to = Int((max(p.x, q.x) + tolerance).rounded(.down))
                if from <= to { for i in from...to { mark(Double(i), p.y + (Double(i) - p.x) * (q.y - p.y) / (q.x - p.x)) } }
            }
        }
        // Interiors, even–odd, row by row (half-open in y so that shared vertices count once).
        let low = segments.map { min($0.0.y, $0.1.y) }.min() ?? 0, high = segments.map { max($0.0.y, $0.1.y) }.max() ?? 0
        let firstRow = max(0, Int((low - 1e-9).rounded(.up))), lastRow = min(ny - 1, Int((high + 1e-9).rounded(.down)))
        guard firstRow <= lastRow else { return covered }
        var crossings: [Double] = []
        for j in firstRow...lastRow {
            let y = Double(j)
            crossings.removeAll(keepingCapacity: true)
            for (p, q) in segments where (p.y <= y && q.y > y) || (q.y <= y && p.y > y) {
                crossings.append(p.x + (y - p.y) * (q.x - p.x) / (q.y - p.y))
            }
            crossings.sort()
            var n = 0
            while n + 1 < crossings.count {
                let from = max(0, Int((crossings[n] - 1e-9).rounded(.up))), to = min(nx - 1, Int((crossings[n + 1] + 1e-9).rounded(.down)))
                if from <= to { for i in from...to { covered[j * nx + i] = true } }
                n += 2
            }
        }
        return covered
    }
}
