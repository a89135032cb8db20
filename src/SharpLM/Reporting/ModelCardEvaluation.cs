using SharpLM.Hub;

namespace SharpLM.Reporting;

/// <summary>The "Evaluation" table of a fine-tuned folder's model card (<see cref="ModelCard"/>): metric, before, after.</summary>
public static class ModelCardEvaluation
{
    /// <summary>The table's rows, header first; empty when the card has no evaluation section.</summary>
    public static List<string[]> Read(string cardPath)
    {
        var rows = new List<string[]>();
        if (!File.Exists(cardPath)) return rows;
        bool inSection = false;
        foreach (var line in File.ReadLines(cardPath))
        {
            if (line.StartsWith("## ")) { inSection = line.Trim() == "## Evaluation"; continue; }
            if (!inSection || !line.TrimStart().StartsWith('|')) continue;
            var cells = Cells(line.Trim());
            if (cells.All(c => c.Trim('-', ':', ' ').Length == 0)) continue; // the |---|---| line
            rows.Add(cells);
        }
        return rows;
    }

    /// <summary>A Markdown row's cells, "\|" being a bar inside a cell (as <see cref="ModelCard"/> writes it).</summary>
    static string[] Cells(string row)
    {
        var cells = new List<string>();
        var cell = new System.Text.StringBuilder();
        for (int i = 1; i < row.Length; i++)
        {
            if (row[i] == '\\' && i + 1 < row.Length && row[i + 1] == '|') { cell.Append('|'); i++; }
            else if (row[i] == '|') { cells.Add(cell.ToString().Trim()); cell.Clear(); }
            else cell.Append(row[i]);
        }
        if (cell.ToString().Trim().Length > 0) cells.Add(cell.ToString().Trim());
        return [.. cells];
    }
}
