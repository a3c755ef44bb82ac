using System.Text;
using Kubefly.Oci;

namespace Kubefly.Pods;

/// <summary>
/// The pure decisions that turn an image config and the command line into the app's process: its name,
/// argv, environment, working directory and user. No I/O, so every rule is unit-tested.
/// </summary>
public static class AppSetup
{
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>
    /// Low to high: inherited parent env (only with --inherit-env) &lt; image config env &lt; --set-env-file
    /// &lt; --set-env &lt; per-app --environment. PATH defaults to rkt's when nothing sets it. A variable keeps
    /// the position where it was first set, so the result is stable.
    /// </summary>
    public static IReadOnlyList<string> Environment(RunArguments run, IReadOnlyList<string>? imageEnvironment, IEnumerable<KeyValuePair<string, string>>? inherited)
    {
        var keys = new List<string>();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        void Set(string key, string value)
        {
            if (!values.ContainsKey(key))
            {
                keys.Add(key);
            }

            values[key] = value;
        }

        if (run.InheritEnvironment && inherited is not null)
        {
            foreach (var (key, value) in inherited.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                Set(key, value);
            }
        }

        foreach (var entry in imageEnvironment ?? [])
        {
            var split = entry.IndexOf('=', StringComparison.Ordinal);
            if (split > 0)
            {
                Set(entry[..split], entry[(split + 1)..]);
            }
        }

        foreach (var layer in new[] { run.EnvironmentFromFiles, run.ExplicitEnvironment, run.App.Environment })
        {
            foreach (var (key, value) in layer)
            {
                Set(key, value);
            }
        }

        if (!values.ContainsKey("PATH"))
        {
            Set("PATH", DefaultPath);
        }

        return keys.ConvertAll(k => $"{k}={values[k]}");
    }

    /// <summary>
    /// rkt's rule (docker2aci made an image's exec Entrypoint + Cmd; stage0 then applied the command
    /// line): --exec replaces that whole exec with one program, and the arguments after `--` are appended
    /// to whatever exec results. A bare `--` appends nothing. An empty result is an error, as rkt's fly
    /// said it. See docs/adr/0008-app-arguments-follow-rkt.md.
    /// </summary>
    public static IReadOnlyList<string> Arguments(AppArguments app, ContainerConfig? config, string imageName)
    {
        var argv = new List<string>();
        if (app.Exec is not null)
        {
            argv.Add(app.Exec);
        }
        else
        {
            argv.AddRange(config?.Entrypoint ?? []);
            argv.AddRange(config?.Cmd ?? []);
        }

        if (argv.Count == 0 || argv[0].Length == 0)
        {
            throw new KubeflyException($"image \"{imageName}\" has an empty \"exec\" (try --exec=BINARY)");
        }

        argv.AddRange(app.Arguments ?? []);
        return argv;
    }

    public static string WorkingDirectory(AppArguments app, ContainerConfig? config) =>
        app.WorkingDirectory is { Length: > 0 } dir ? dir : config?.WorkingDir is { Length: > 0 } image ? image : "/";

    public static string? User(AppArguments app, ContainerConfig? config) =>
        app.User is { Length: > 0 } user ? user : config?.User is { Length: > 0 } image ? image : null;

    /// <summary>--name, else the last path element of the image's repository made a valid ACName (rkt's rule).</summary>
    public static string AppName(AppArguments app, string imageName)
    {
        if (app.Name is not null)
        {
            return app.Name;
        }

        var name = imageName;
        var scheme = name.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            name = name[(scheme + 3)..];
        }

        var at = name.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            name = name[..at];
        }

        name = name.TrimEnd('/');
        name = name[(name.LastIndexOf('/') + 1)..];
        var colon = name.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            name = name[..colon];
        }

        var builder = new StringBuilder();
        foreach (var c in name.ToLowerInvariant())
        {
            var valid = char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c);
            if (valid || (builder.Length > 0 && builder[^1] != '-'))
            {
                builder.Append(valid ? c : '-');
            }
        }

        var result = builder.ToString().Trim('-');
        return result.Length == 0 ? "app" : result;
    }
}
