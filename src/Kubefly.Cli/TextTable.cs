namespace Kubefly.Cli;

/// <summary>rkt's tables: columns padded to their widest cell, separated by tabs' worth of spaces.</summary>
public sealed class TextTable(string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(string[] row) => _rows.Add(row);

    public void Write(TextWriter output, bool legend)
    {
        var rows = legend ? _rows.Prepend(headers).ToList() : _rows;
        var widths = new int[headers.Length];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        foreach (var row in rows)
        {
            var cells = row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i] + 2));
            output.WriteLine(string.Concat(cells).TrimEnd());
        }
    }

    /// <summary>"5 seconds ago", "3 minutes ago", "2 hours ago", "4 days ago".</summary>
    public static string Ago(TimeSpan age) => age switch
    {
        { TotalSeconds: < 60 } => $"{Math.Max(0, (int)age.TotalSeconds)} seconds ago",
        { TotalMinutes: < 60 } => $"{(int)age.TotalMinutes} minutes ago",
        { TotalHours: < 48 } => $"{(int)age.TotalHours} hours ago",
        _ => $"{(int)age.TotalDays} days ago",
    };
}
