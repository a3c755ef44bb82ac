using System.Text;

namespace Kubefly.Wrappers;

/// <summary>
/// `kubelet-wrapper --help` (and the wrappers' man pages): what a wrapper reads and what it adds, from
/// the same profile the composer runs, so the help cannot drift from the behaviour.
/// </summary>
public static class WrapperHelp
{
    /// <summary>The help as sections of (heading, lines); text and roff renderings share it.</summary>
    public static IReadOnlyList<(string Heading, IReadOnlyList<(string Term, string Text)> Items)> Sections(WrapperProfile profile)
    {
        var environment = new List<(string, string)>
        {
            (profile.ImageVariable, $"the full image reference; when set, {profile.ImageUrlVariable} and {profile.ImageTagVariable} are not used"),
            (profile.ImageUrlVariable, $"the image without its tag (default {profile.DefaultImageUrl})"),
            (profile.ImageTagVariable, $"the image's tag; required unless {profile.ImageVariable} is set"),
            (profile.ImageArgsVariable, profile.DefaultImageArgs is { } args ? $"flags for the image in rkt run (default {args})" : "flags for the image in rkt run (default none)"),
        };
        foreach (var required in profile.RequiredVariables)
        {
            environment.Add((required, "required"));
        }

        foreach (var conditional in profile.ConditionalVolumes)
        {
            environment.Add((conditional.SourceVariable, $"bound into the pod at {conditional.Target ?? "the same path"} when it names an existing {conditional.Condition.ToString().ToLowerInvariant()}{(conditional.DefaultSource is { } source ? $" (default {source})" : string.Empty)}"));
        }

        foreach (var volume in profile.Volumes.Where(v => v.SourceVariable is not null))
        {
            environment.Add((volume.SourceVariable!, $"the host directory bound at {volume.Target} (default {volume.Source})"));
        }

        environment.Add((WrapperComposer.RunArgsVariable, "extra flags for rkt run, before the wrapper's own volumes (your --volume/--mount pairs, --insecure-options=...)"));
        environment.Add((WrapperComposer.GlobalArgsVariable, "flags for rkt itself, before `run` (--dir=..., --policy=..., --transient-pods)"));
        environment.Add((WrapperComposer.Stage1Variable, $"the stage1 flag (default {WrapperComposer.DefaultStage1}; accepted, kubefly is its own fly stage)"));
        foreach (var deprecated in profile.DeprecatedVariables)
        {
            environment.Add((deprecated.Name, $"deprecated: use {deprecated.Replacement}"));
        }

        var volumes = profile.Volumes
            .Select(v => ($"{v.Source} -> {v.Target}", string.Join(", ", new[] { v.ReadOnly ? "read-only" : "read-write", v.Recursive ? "recursive" : null, v.Propagation is { } p ? p : null }.OfType<string>())))
            .ToList();
        var directories = profile.HostDirectories
            .Select(d => (d.Path ?? $"${d.PathVariable}", d.OwnerVariable is { } owner ? $"created when missing, owned by ${owner}" : "created when missing"))
            .ToList();

        return
        [
            ("ENVIRONMENT", environment),
            ("VOLUMES", volumes),
            ("DIRECTORIES", directories),
        ];
    }

    public static string Text(WrapperProfile profile)
    {
        var text = new StringBuilder();
        text.Append($"Usage: {profile.ProgramName} [{profile.Name.ToUpperInvariant()} FLAGS...]\n\n");
        text.Append($"Runs {profile.Name} from a container image with kubefly's fly stage, as CoreOS's {profile.ProgramName} did on top of rkt:\n");
        text.Append($"the arguments are {profile.Name}'s own and reach it unchanged; --help alone prints this. The unit's main process\n");
        text.Append($"becomes {profile.Name} itself. `kubefly unit {profile.Name}` prints a systemd unit that runs it.\n");
        foreach (var (heading, items) in Sections(profile))
        {
            if (items.Count == 0)
            {
                continue;
            }

            text.Append($"\n{char.ToUpperInvariant(heading[0])}{heading[1..].ToLowerInvariant()}:\n");
            var width = items.Max(i => i.Term.Length) + 2;
            foreach (var (term, description) in items)
            {
                text.Append($"  {term.PadRight(width)}{description}\n");
            }
        }

        return text.ToString();
    }
}
