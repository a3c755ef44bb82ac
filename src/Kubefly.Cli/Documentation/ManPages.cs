using System.CommandLine;
using System.Text;
using Kubefly.Wrappers;

namespace Kubefly.Cli.Documentation;

/// <summary>
/// Man pages written from the command definitions the parser and `--help` use (so none can drift):
/// kubefly(1), kubefly-COMMAND(1) for every command and subcommand, and WRAPPER(8) for each wrapper.
/// `make build` runs it (`kubefly generate-man-pages DIR`); `make install` and the packages install them.
/// </summary>
internal static class ManPages
{
    public static IReadOnlyList<string> Write(RootCommand root, string directory, string version)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        var visible = root.Subcommands.Where(c => !c.Hidden).ToList();
        written.Add(WritePage(directory, "kubefly", 1, version, Page(root, "kubefly", visible)));
        foreach (var command in visible)
        {
            foreach (var (path, page) in CommandPages(command, "kubefly"))
            {
                written.Add(WritePage(directory, path.Replace(' ', '-'), 1, version, page));
            }
        }

        foreach (var profile in WrapperProfiles.All)
        {
            written.Add(WritePage(directory, profile.ProgramName, 8, version, WrapperPage(profile)));
        }

        return written;
    }

    private static IEnumerable<(string Path, string Body)> CommandPages(Command command, string parent)
    {
        var path = $"{parent} {command.Name}";
        var children = command.Subcommands.Where(c => !c.Hidden).ToList();
        yield return (path, Page(command, path, children));
        foreach (var child in children)
        {
            foreach (var page in CommandPages(child, path))
            {
                yield return page;
            }
        }
    }

    private static string Page(Command command, string path, IReadOnlyList<Command> children)
    {
        var firstLine = command.Description ?? string.Empty;
        var key = path == "kubefly" ? string.Empty : path["kubefly ".Length..];
        var description = CommandDocs.Extended.TryGetValue(key, out var more) ? $"{firstLine}\n\n{more.TrimEnd()}" : firstLine;
        var body = new StringBuilder();
        body.Append(".SH NAME\n").Append(Escape(path.Replace(' ', '-'))).Append(" \\- ").Append(Escape(firstLine)).Append('\n');
        body.Append(".SH SYNOPSIS\n.B ").Append(Escape(path)).Append('\n');
        var synopsis = string.Join(" ", command.Arguments.Select(a => a.Arity.MaximumNumberOfValues > 1 ? $"{a.Name}..." : a.Arity.MinimumNumberOfValues == 0 ? $"[{a.Name}]" : a.Name));
        body.Append(Escape($"{(children.Count > 0 ? "COMMAND " : string.Empty)}[OPTIONS] {synopsis}".Trim())).Append('\n');
        body.Append(".SH DESCRIPTION\n");
        foreach (var paragraph in description.Split("\n\n"))
        {
            body.Append(".PP\n");
            var lines = paragraph.Split('\n');
            var literal = lines.Length > 1 && lines.Skip(1).All(l => l.StartsWith("  ", StringComparison.Ordinal));
            if (literal)
            {
                body.Append(Escape(lines[0])).Append("\n.nf\n");
                foreach (var line in lines.Skip(1))
                {
                    body.Append(Escape(line)).Append('\n');
                }

                body.Append(".fi\n");
            }
            else
            {
                body.Append(Escape(paragraph.Replace('\n', ' '))).Append('\n');
            }
        }

        if (children.Count > 0)
        {
            body.Append(".SH COMMANDS\n");
            foreach (var child in children)
            {
                body.Append(".TP\n.B ").Append(Escape(child.Name)).Append('\n').Append(Escape((child.Description ?? string.Empty).Split('\n')[0])).Append('\n');
            }
        }

        var options = command.Options.Where(o => !o.Hidden && o.Name is not ("--help" or "--version")).ToList();
        if (options.Count > 0)
        {
            body.Append(".SH OPTIONS\n");
            foreach (var option in options)
            {
                body.Append(".TP\n.B ").Append(Escape(option.Name)).Append('\n').Append(Escape(option.Description ?? string.Empty)).Append('\n');
            }
        }

        if (path != "kubefly")
        {
            body.Append(".PP\nGlobal options (see \\fBkubefly\\fR(1)) are accepted before or after the command.\n");
        }

        body.Append(".SH SEE ALSO\n");
        body.Append(path == "kubefly"
            ? string.Join(",\n", children.Select(c => $"\\fBkubefly\\-{Escape(c.Name)}\\fR(1)")) + ",\n\\fBkubelet\\-wrapper\\fR(8), \\fBcontainers\\-policy.json\\fR(5), \\fBcontainers\\-registries.conf\\fR(5)\n"
            : "\\fBkubefly\\fR(1)\n");
        return body.ToString();
    }

    private static string WrapperPage(WrapperProfile profile)
    {
        var body = new StringBuilder();
        body.Append(".SH NAME\n").Append(Escape(profile.ProgramName)).Append(" \\- run ").Append(Escape(profile.Name)).Append(" from a container image, as CoreOS's wrapper did\n");
        body.Append(".SH SYNOPSIS\n.B ").Append(Escape(profile.ProgramName)).Append('\n').Append(Escape($"[{profile.Name.ToUpperInvariant()} FLAGS...]")).Append('\n');
        body.Append(".SH DESCRIPTION\n.PP\n").Append(Escape($"Runs {profile.Name} from a container image with kubefly's fly stage, as CoreOS's {profile.ProgramName} did on top of rkt. The arguments are {profile.Name}'s own and reach it unchanged; --help alone prints a summary. The unit's main process becomes {profile.Name} itself. `kubefly unit {profile.Name}` prints a systemd unit that runs it.")).Append('\n');
        foreach (var (heading, items) in WrapperHelp.Sections(profile))
        {
            if (items.Count == 0)
            {
                continue;
            }

            body.Append(".SH ").Append(heading).Append('\n');
            foreach (var (term, text) in items)
            {
                body.Append(".TP\n.B ").Append(Escape(term)).Append('\n').Append(Escape(text)).Append('\n');
            }
        }

        body.Append(".SH SEE ALSO\n\\fBkubefly\\fR(1), \\fBkubefly\\-run\\fR(1)\n");
        return body.ToString();
    }

    private static string WritePage(string directory, string name, int section, string version, string body)
    {
        var path = Path.Combine(directory, $"{name}.{section}");
        var header = $".TH \"{Escape(name.ToUpperInvariant())}\" \"{section}\" \"\" \"kubefly {Escape(version)}\" \"kubefly manual\"\n";
        File.WriteAllText(path, header + body);
        return path;
    }

    /// <summary>roff: a backslash is \e, a hyphen \-, and a line may not start with '.' or '\''.</summary>
    private static string Escape(string text)
    {
        var escaped = text.Replace("\\", "\\e", StringComparison.Ordinal).Replace("-", "\\-", StringComparison.Ordinal);
        return escaped.Length > 0 && escaped[0] is '.' or '\'' ? "\\&" + escaped : escaped;
    }
}
