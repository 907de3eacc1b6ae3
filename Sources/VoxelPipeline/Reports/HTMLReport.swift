import Foundation
import VoxelCore
import VoxelIO
import VoxelSupport

/// Self-contained HTML pages (pictures embedded as PNG data) for case reports and the batch index.
public enum HTMLReport {
    /// `text` with the five HTML special characters escaped.
    public static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    static let style = """
    body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
    h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}.meta{color:#666;font-size:13px}
    table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}
    td.n{text-align:right;font-variant-numeric:tabular-nums}.swatch{display:inline-block;width:12px;height:12px;border:1px solid #444}
    .views{display:flex;gap:12px;flex-wrap:wrap}figure{margin:0}figcaption{font-size:12px;color:#555}
    .pic{position:relative;display:inline-block;background:#000;line-height:0}
    .pic span.o{position:absolute;color:#ff0;font:bold 13px sans-serif;line-height:1}
    .pic .left{left:4px;top:50%}.pic .right{right:4px;top:50%}.pic .top{top:4px;left:50%}.pic .bottom{bottom:4px;left:50%}
    .bar{position:absolute;left:8px;bottom:8px;height:3px;background:#fff}.barlabel{position:absolute;left:8px;bottom:14px;color:#fff;font:11px sans-serif;line-height:1}
    .warn{color:#a40}.failed{color:#b00}
    """

    /// One picture with its orientation letters, a scale bar and a caption.
    static func figure(_ picture: ReportPicture, png: [UInt8], caption: String, alt: String) -> String {
        let letters = picture.view.letters
        let widthMM = Double(picture.width) * picture.millimetresPerPixel
        let bar = [5.0, 10, 20, 50, 100, 200].last { $0 <= widthMM / 4 } ?? 5
        let barPixels = Int((bar / picture.millimetresPerPixel).rounded())
        return """
        <figure><div class="pic"><img src="data:image/png;base64,\(Data(png).base64EncodedString())" width="\(picture.width)" height="\(picture.height)" alt="\(escape(alt))">\
        <span class="o left">\(letters.left)</span><span class="o right">\(letters.right)</span><span class="o top">\(letters.top)</span><span class="o bottom">\(letters.bottom)</span>\
        <div class="bar" style="width:\(barPixels)px"></div><span class="barlabel">\(JSON.format(bar)) mm</span></div>\
        <figcaption>\(escape(caption))</figcaption></figure>
        """
    }

    /// The case page: a table of structures (numbers as in the JSON report, also in data- attributes),
    /// warnings, and per structure its three views through its centroid.
    static func casePage(caseID: String, pipeline: String, window: DisplayWindow, structures: [StructureSummary],
                         figures: [Int: [String]], warnings: [String], omitted: Int) -> String {
        var html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(caseID)) · VoxelFlow report</title><style>\(style)</style></head><body>
        <h1>\(escape(caseID))</h1>
        <p class="meta">Pipeline \(escape(pipeline)) · window level \(JSON.format(window.level)), width \(JSON.format(window.width)) · \(structures.count) structure\(structures.count == 1 ? "" : "s")</p>
        <table id="structures"><thead><tr><th></th><th>Label</th><th>Name</th><th>Voxels</th><th>Volume (mL)</th><th>Mean intensity</th><th>Centroid LPS (mm)</th><th>Notes</th></tr></thead><tbody>

        """
        for s in structures {
            let c = s.color
            let centroid = [s.centroid.x, s.centroid.y, s.centroid.z].map { JSON.format(StructureSummary.round6($0)) }.joined(separator: ", ")
            let mean = s.meanIntensity.map(JSON.format) ?? "–"
            html += """
            <tr data-label="\(s.value)" data-voxels="\(s.voxels)" data-volume-ml="\(JSON.format(s.volumeML))"\(s.meanIntensity.map { " data-mean-intensity=\"\(JSON.format($0))\"" } ?? "")>\
            <td><span class="swatch" style="background:rgb(\(c[0]),\(c[1]),\(c[2]))"></span></td><td class="n">\(s.value)</td><td><a href="#label-\(s.value)">\(escape(s.name))</a></td>\
            <td class="n">\(s.voxels)</td><td class="n">\(JSON.format(s.volumeML))</td><td class="n">\(mean)</td><td>\(centroid)</td>\
            <td class="warn">\(s.touchesBorder ? "touches the scan's border: may be cut off" : "")</td></tr>

            """
        }
        html += "</tbody></table>\n"
        if omitted > 0 { html += "<p class=\"meta\">Pictures are shown for the first \(structures.count - omitted) structures; \(omitted) more are in the table only.</p>\n" }
        if !warnings.isEmpty {
            html += "<h2>Warnings</h2><ul>\n" + warnings.map { "<li class=\"warn\">\(escape($0))</li>\n" }.joined() + "</ul>\n"
        }
        for s in structures {
            guard let list = figures[s.value] else { continue }
            html += "<section id=\"label-\(s.value)\"><h2>\(s.value) · \(escape(s.name))</h2><div class=\"views\">\n" + list.joined(separator: "\n") + "\n</div></section>\n"
        }
        html += "</body></html>\n"
        return html
    }
}
