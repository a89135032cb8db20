using System.Globalization;
using System.Text;
using static System.Net.WebUtility;

namespace SharpLM.Reporting;

/// <summary>
/// The report as one HTML page that needs no other file: charts embedded as data URIs, styles inline. Numbers shown
/// rounded carry their exact value in a data-value attribute, so a script (or a test) can read them back.
/// </summary>
public static class ReportPage
{
    public static string Render(IReadOnlyList<ReportedRun> runs, IReadOnlyList<ReportChart> charts, IReadOnlyList<string> notes)
    {
        var html = new StringBuilder();
        var title = "SharpLM report: " + string.Join(", ", runs.Select(r => r.Name));
        html.Append($"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{HtmlEncode(title)}</title>\n");
        html.Append(Style);
        html.Append($"</head>\n<body>\n<h1>{HtmlEncode(title)}</h1>\n");
        foreach (var note in notes) html.Append($"<p class=\"note\">{HtmlEncode(note)}</p>\n");
        Summary(html, runs);
        html.Append("<h2>Curves</h2>\n<div class=\"charts\">\n");
        foreach (var chart in charts)
            html.Append($"<figure><img src=\"data:image/png;base64,{Convert.ToBase64String(chart.Png)}\" alt=\"{HtmlEncode(chart.Title)}\">" +
                        $"<figcaption>{HtmlEncode(chart.Title)} ({HtmlEncode(chart.FileName)})</figcaption></figure>\n");
        html.Append("</div>\n");
        Settings(html, runs);
        Evaluation(html, runs);
        Samples(html, runs);
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    const string Style = """
        <style>
        body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
        table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
        th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
        td.number { text-align: right; font-variant-numeric: tabular-nums; }
        th { background: #f3f3f3; }
        tr.differs td, tr.differs th { background: #fff3c4; }
        .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 1em; }
        figure { margin: 0; } figure img { width: 100%; height: auto; border: 1px solid #eee; }
        figcaption { color: #666; font-size: 0.9em; }
        .note { color: #8a5a00; }
        pre { white-space: pre-wrap; background: #f7f7f7; padding: 0.5em; margin: 0.2em 0 0.8em; }
        </style>

        """;

    static void Summary(StringBuilder html, IReadOnlyList<ReportedRun> runs)
    {
        html.Append("<h2>Summary</h2>\n<table id=\"summary\">\n<tr><th>run</th><th>command</th><th>steps</th><th>final loss</th>" +
                    "<th>best validation loss</th><th>at step</th><th>tokens/s (median)</th><th>wall time</th><th>folder</th></tr>\n");
        foreach (var run in runs)
        {
            var s = run.Summary;
            html.Append($"<tr data-run=\"{HtmlEncode(run.Name)}\"><th>{HtmlEncode(run.Name)}</th><td>{HtmlEncode(run.Command ?? "")}</td>");
            html.Append(Number("steps", s.Steps, s.Steps.ToString("N0", CultureInfo.InvariantCulture)));
            html.Append(Number("final-loss", s.FinalLoss, s.FinalLoss?.ToString("F4", CultureInfo.InvariantCulture)));
            html.Append(Number("best-valid-loss", s.BestValidLoss, s.BestValidLoss?.ToString("F4", CultureInfo.InvariantCulture)));
            html.Append(Number("best-valid-step", s.BestValidStep, s.BestValidStep?.ToString("N0", CultureInfo.InvariantCulture)));
            html.Append(Number("tokens-per-second", s.MedianTokensPerSecond, s.MedianTokensPerSecond?.ToString("N0", CultureInfo.InvariantCulture)));
            html.Append(Number("wall-seconds", s.WallSeconds, s.WallSeconds is { } w ? Duration(w) : null));
            html.Append($"<td>{HtmlEncode(run.Folder)}</td></tr>\n");
        }
        html.Append("</table>\n");
    }

    /// <summary>A cell showing a rounded number and holding its exact value (round-trip format).</summary>
    static string Number(string field, double? value, string? shown) => value is null
        ? $"<td class=\"number\" data-field=\"{field}\"></td>"
        : $"<td class=\"number\" data-field=\"{field}\" data-value=\"{value.Value.ToString("R", CultureInfo.InvariantCulture)}\">{shown}</td>";

    static string Number(string field, long? value, string? shown) => Number(field, (double?)value, shown);

    static string Duration(double seconds) =>
        seconds < 60 ? $"{seconds.ToString("F1", CultureInfo.InvariantCulture)} s"
        : TimeSpan.FromSeconds(Math.Round(seconds)) is var t && t.TotalHours >= 1 ? $"{(int)t.TotalHours} h {t.Minutes:D2} min"
        : $"{t.Minutes} min {t.Seconds:D2} s";

    /// <summary>One column per run, the rows whose values differ highlighted.</summary>
    static void Settings(StringBuilder html, IReadOnlyList<ReportedRun> runs)
    {
        var names = runs.SelectMany(r => r.Settings.Select(s => s.Name)).Distinct().ToList();
        html.Append("<h2>Settings</h2>\n");
        if (names.Count == 0)
        {
            html.Append("<p>No run records its settings (run.yaml, run-settings.json or run.json).</p>\n");
            return;
        }
        if (runs.Count > 1) html.Append("<p>Highlighted: settings that differ between the runs.</p>\n");
        html.Append("<table id=\"settings\">\n<tr><th>setting</th>");
        foreach (var run in runs) html.Append($"<th>{HtmlEncode(run.Name)}</th>");
        html.Append("</tr>\n");
        foreach (var name in names)
        {
            var values = runs.Select(r => r.Settings.Where(s => s.Name == name).Select(s => s.Value).FirstOrDefault()).ToList();
            var differs = runs.Count > 1 && values.Distinct().Count() > 1;
            html.Append($"<tr{(differs ? " class=\"differs\"" : "")}><th>{HtmlEncode(name)}</th>");
            foreach (var value in values) html.Append($"<td>{HtmlEncode(value ?? "")}</td>");
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");
    }

    static void Evaluation(StringBuilder html, IReadOnlyList<ReportedRun> runs)
    {
        var evaluated = runs.Where(r => r.Evaluation.Count > 0).ToList();
        if (evaluated.Count == 0) return;
        html.Append("<h2>Evaluation before and after</h2>\n");
        foreach (var run in evaluated)
        {
            html.Append($"<h3>{HtmlEncode(run.Name)}</h3>\n<table class=\"evaluation\">\n");
            for (int i = 0; i < run.Evaluation.Count; i++)
            {
                var cell = i == 0 ? "th" : "td";
                html.Append("<tr>").Append(string.Concat(run.Evaluation[i].Select(c => $"<{cell}>{HtmlEncode(c)}</{cell}>"))).Append("</tr>\n");
            }
            html.Append("</table>\n");
        }
    }

    static void Samples(StringBuilder html, IReadOnlyList<ReportedRun> runs)
    {
        var sampled = runs.Where(r => r.History.Samples.Count > 0).ToList();
        if (sampled.Count == 0) return;
        html.Append("<h2>Samples</h2>\n");
        foreach (var run in sampled)
        {
            html.Append($"<h3>{HtmlEncode(run.Name)}</h3>\n");
            foreach (var sample in run.History.Samples)
            {
                html.Append($"<p>{(sample.Step is { } step ? $"step {step}" : "sample")}</p>\n");
                foreach (var (field, text) in sample.Fields) html.Append($"<pre><b>{HtmlEncode(field)}:</b> {HtmlEncode(text)}</pre>\n");
            }
        }
    }
}
