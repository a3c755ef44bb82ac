using System.Text;

namespace Kubefly.Wrappers;

/// <summary>What `kubefly unit NAME` was asked for.</summary>
public sealed record UnitRequest(string? Image, string? ImageTag, IReadOnlyList<string> AppArguments, bool AutoUpdate = false);

/// <summary>Writes a systemd unit for a wrapper in the seed's pattern (rm before start, stop after, uuid file between).</summary>
public static class UnitFile
{
    /// <summary>The engine as the seed's units name it (`make install-compat` links it to kubefly).</summary>
    public const string Engine = "/usr/bin/rkt";

    public static string Render(WrapperProfile profile, UnitRequest request)
    {
        var template = profile.Unit;
        var uuidDirectory = Path.GetDirectoryName(template.UuidFile)!;
        var text = new StringBuilder();
        text.AppendLine($"# {profile.Name}.service, written by `kubefly unit {profile.Name}`.");
        text.AppendLine($"# The pod's uuid file is kept in {uuidDirectory}, not /var/run: it outlives a reboot, so the");
        text.AppendLine("# ExecStartPre rm removes the pod left over from before it instead of leaving it to gc. Trade-off: after");
        text.AppendLine("# gc has removed that pod the file names nothing and the rm fails, which the leading '-' ignores.");
        text.AppendLine("[Unit]");
        text.AppendLine($"Description={Escape(template.Description)}");
        foreach (var line in template.UnitLines)
        {
            text.AppendLine(line);
        }

        text.AppendLine();
        text.AppendLine("[Service]");
        foreach (var line in template.ServiceLines)
        {
            text.AppendLine(line);
        }

        if (request.Image is not null)
        {
            text.AppendLine(Environment(profile.ImageVariable, request.Image));
        }

        if (request.ImageTag is not null)
        {
            text.AppendLine(Environment(profile.ImageTagVariable, request.ImageTag));
        }

        foreach (var (name, value) in template.Environment)
        {
            text.AppendLine(Environment(name, value));
        }

        if (request.AutoUpdate)
        {
            // Read by `kubefly run` into the pod record: `kubefly auto-update` considers this unit.
            text.AppendLine(Environment("KUBEFLY_AUTO_UPDATE", "registry"));
        }

        text.AppendLine(Environment(WrapperComposer.RunArgsVariable, $"--uuid-file-save={template.UuidFile}"));
        text.AppendLine($"ExecStartPre=/usr/bin/mkdir --parents {uuidDirectory}");
        foreach (var line in template.ExecStartPre)
        {
            text.AppendLine($"ExecStartPre={line}");
        }

        text.AppendLine($"ExecStartPre=-{Engine} rm --uuid-file={template.UuidFile}");
        var words = new List<string> { template.WrapperPath };
        words.AddRange(template.ExecStartWords);
        words.AddRange(request.AppArguments.Select(ExecWord));
        text.Append("ExecStart=").AppendLine(string.Join(" \\\n  ", words));
        text.AppendLine($"ExecStop=-{Engine} stop --uuid-file={template.UuidFile}");
        text.AppendLine();
        text.AppendLine("[Install]");
        text.AppendLine("WantedBy=multi-user.target");
        return text.ToString();
    }

    /// <summary>An Environment= line; quoted when the value has a space, quote or backslash.</summary>
    public static string Environment(string name, string value)
    {
        var assignment = $"{name}={Escape(value)}";
        return NeedsQuotes(value)
            ? $"Environment=\"{assignment.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\""
            : $"Environment={assignment}";
    }

    /// <summary>One ExecStart word, kept literal: systemd would expand $VAR and %-specifiers and split at spaces.</summary>
    public static string ExecWord(string word)
    {
        var escaped = Escape(word).Replace("$", "$$", StringComparison.Ordinal);
        if (word.Length > 0 && !NeedsQuotes(word) && word != ";")
        {
            return escaped;
        }

        return "\"" + escaped.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    private static string Escape(string value) => value.Replace("%", "%%", StringComparison.Ordinal);

    private static bool NeedsQuotes(string value) =>
        value.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\');
}
