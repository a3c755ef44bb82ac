using System.Text;
using Kubefly.Linux;

namespace Kubefly.Wrappers;

/// <summary>
/// Turns a <see cref="WrapperProfile"/>, the environment and the unit's arguments into the engine's
/// command line, in the original scripts' order:
/// <c>$RKT $RKT_GLOBAL_ARGS run $RKT_RUN_ARGS [profile flags] &lt;volumes&gt; &lt;mounts&gt; [profile flags]
/// $RKT_STAGE1_ARG $IMAGE $IMAGE_ARGS [--user=UID] -- "$@"</c>.
/// Pure: the host is only asked about (through <see cref="HostView"/>), never changed.
/// </summary>
public static class WrapperComposer
{
    public const string EngineVariable = "RKT";
    public const string GlobalArgsVariable = "RKT_GLOBAL_ARGS";
    public const string RunArgsVariable = "RKT_RUN_ARGS";
    public const string Stage1Variable = "RKT_STAGE1_ARG";
    public const string DefaultEngine = "/usr/bin/rkt";
    public const string DefaultStage1 = "--stage1-from-dir=stage1-fly.aci";

    public static WrapperInvocation Compose(WrapperProfile profile, IReadOnlyDictionary<string, string> environment, IReadOnlyList<string> arguments, HostView host)
    {
        // The shell's ${VAR:-...} and [[ -n ]] treat an empty variable as unset.
        string? Get(string name) => environment.TryGetValue(name, out var value) && value.Length > 0 ? value : null;

        var notices = new List<string>();
        foreach (var deprecated in profile.DeprecatedVariables)
        {
            if (Get(deprecated.Name) is not null)
            {
                notices.Add(deprecated.Message);
            }
        }

        string? Resolve(string name)
        {
            var value = Get(name);
            foreach (var deprecated in profile.DeprecatedVariables)
            {
                if (deprecated.Replacement == name && deprecated.Kind == DeprecationKind.Fallback)
                {
                    value ??= Get(deprecated.Name);
                }
            }

            return value;
        }

        var imageTag = Resolve(profile.ImageTagVariable);
        var explicitImage = Get(profile.ImageVariable);
        if (explicitImage is null && imageTag is null)
        {
            throw new WrapperConfigurationException($"One of {profile.ImageVariable} {profile.ImageTagVariable} must be set", notices);
        }

        foreach (var required in profile.RequiredVariables)
        {
            if (Get(required) is null)
            {
                throw new WrapperConfigurationException($"{required} is not set", notices);
            }
        }

        var imageUrl = Resolve(profile.ImageUrlVariable) ?? profile.DefaultImageUrl;
        var image = explicitImage ?? $"{imageUrl}:{imageTag}";

        var runArgs = new StringBuilder(Get(RunArgsVariable) ?? string.Empty);
        foreach (var deprecated in profile.DeprecatedVariables.Where(d => d.Kind == DeprecationKind.Append))
        {
            runArgs.Append(' ').Append(Get(deprecated.Name));
        }

        AppendImageSourceFlag(runArgs, image);

        foreach (var conditional in profile.ConditionalVolumes)
        {
            AppendConditional(runArgs, conditional, Get(conditional.SourceVariable) ?? conditional.DefaultSource, host);
        }

        var directories = new List<DirectoryToCreate>();
        foreach (var directory in profile.HostDirectories)
        {
            var path = directory.PathVariable is null ? directory.Path! : Get(directory.PathVariable)!;
            PasswdEntry? owner = null;
            if (directory.OwnerVariable is not null)
            {
                owner = LookUpUser(profile, Get(directory.OwnerVariable)!, host, notices);
            }

            directories.Add(new DirectoryToCreate(path, owner));
        }

        var created = directories.Select(d => d.Path).ToHashSet(StringComparer.Ordinal);
        var volumes = new List<(SystemVolume Volume, string Source)>();
        foreach (var volume in profile.Volumes)
        {
            var source = (volume.SourceVariable is null ? null : Get(volume.SourceVariable)) ?? volume.Source;
            if (!created.Contains(source) && host.PathKind(source) == HostPathKind.Missing)
            {
                notices.Add($"{profile.ProgramName}: skipping volume {volume.Name}: {source} does not exist on this host");
                continue;
            }

            volumes.Add((volume, source));
        }

        var argv = new List<string>();
        argv.AddRange(ShellWords.Split(Get(EngineVariable) ?? DefaultEngine));
        argv.AddRange(ShellWords.Split(Get(GlobalArgsVariable)));
        argv.Add("run");
        argv.AddRange(ShellWords.Split(runArgs.ToString()));
        argv.AddRange(profile.FlagsBeforeVolumes);
        foreach (var (volume, source) in volumes)
        {
            argv.Add("--volume");
            argv.Add(VolumeSpec(volume, source));
        }

        foreach (var (volume, _) in volumes)
        {
            argv.Add("--mount");
            argv.Add($"volume={volume.Name},target={volume.Target}");
        }

        argv.AddRange(profile.FlagsAfterMounts);
        argv.AddRange(ShellWords.Split(Get(Stage1Variable) ?? DefaultStage1));
        argv.AddRange(ShellWords.Split(image));
        argv.AddRange(ShellWords.Split(Get(profile.ImageArgsVariable) ?? profile.DefaultImageArgs));
        if (profile.UserVariable is not null)
        {
            var user = LookUpUser(profile, Get(profile.UserVariable)!, host, notices);
            argv.Add($"--user={user.UserId}");
        }

        argv.Add("--");
        argv.AddRange(arguments);

        return new WrapperInvocation
        {
            Argv = argv,
            Notices = notices,
            Directories = directories,
            SharedMountPoints = volumes.Where(v => v.Volume.IsShared).Select(v => v.Source).ToList(),
            EnvironmentOverrides = profile.EnvironmentOverrides,
            AppArguments = arguments,
        };
    }

    /// <summary>
    /// quay.io images: rkt fetched their signing keys over HTTPS; docker:// images are unsigned, so rkt
    /// needs --insecure-options=image. Neither is added when RKT_RUN_ARGS already says something about
    /// it (Flatcar's fix, so `--insecure-options=image,http` is not overridden). Substring tests, like
    /// the original's grep.
    /// </summary>
    private static void AppendImageSourceFlag(StringBuilder runArgs, string image)
    {
        var slash = image.IndexOf('/', StringComparison.Ordinal);
        var head = slash < 0 ? image : image[..slash];
        var current = runArgs.ToString();
        if (head == "quay.io" && !current.Contains("trust-keys-from-https", StringComparison.Ordinal))
        {
            runArgs.Append(" --trust-keys-from-https");
        }
        else if (head == "docker:" && !current.Contains("insecure-options", StringComparison.Ordinal))
        {
            runArgs.Append(" --insecure-options=image");
        }
    }

    private static void AppendConditional(StringBuilder runArgs, ConditionalVolume conditional, string? source, HostView host)
    {
        if (source is null)
        {
            return;
        }

        var wanted = conditional.Condition == HostCondition.Directory ? HostPathKind.Directory : HostPathKind.Socket;
        if (host.PathKind(source) != wanted)
        {
            return;
        }

        var readOnly = conditional.ReadOnly is { } value ? $",readOnly={Bool(value)}" : string.Empty;
        var volume = $"--volume {conditional.Name},kind=host,source={source}{readOnly}";
        var mount = $"--mount volume={conditional.Name},target={conditional.Target ?? source}";
        runArgs.Append(' ').Append(conditional.MountFirst ? $"{mount} {volume}" : $"{volume} {mount}");
        foreach (var flag in conditional.ExtraFlags)
        {
            runArgs.Append(' ').Append(flag);
        }
    }

    private static string VolumeSpec(SystemVolume volume, string source)
    {
        var spec = new StringBuilder($"{volume.Name},kind=host,source={source},readOnly={Bool(volume.ReadOnly)}");
        if (volume.Recursive)
        {
            spec.Append(",recursive=true");
        }

        if (volume.Propagation is not null)
        {
            spec.Append(",propagation=").Append(volume.Propagation);
        }

        return spec.ToString();
    }

    private static PasswdEntry LookUpUser(WrapperProfile profile, string user, HostView host, List<string> notices) =>
        host.FindUser(user) ?? throw new WrapperConfigurationException($"{profile.ProgramName}: {profile.UserVariable ?? "user"} {user}: no such user in /etc/passwd", notices);

    private static string Bool(bool value) => value ? "true" : "false";
}
