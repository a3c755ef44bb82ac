using System.Globalization;
using System.Text.RegularExpressions;
using Kubefly.Fly;
using Kubefly.Oci;

namespace Kubefly.Pods;

public enum VolumeKind
{
    /// <summary>A host path bound into the rootfs.</summary>
    Host,

    /// <summary>A fresh pod-private directory (mode, uid, gid).</summary>
    Empty,
}

/// <summary>
/// One --volume: `NAME,kind=host,source=/abs,readOnly=BOOL,recursive=BOOL[,propagation=...]` or
/// `NAME,kind=empty[,mode=0755,uid=N,gid=N]`. Parsed with appc's rules and rkt's messages.
/// </summary>
public sealed partial record VolumeSpec
{
    public const string EmptyDefaultMode = "0755";

    public required string Name { get; init; }

    public required VolumeKind Kind { get; init; }

    /// <summary>Absolute host path (kind=host only).</summary>
    public string? Source { get; init; }

    public bool ReadOnly { get; init; }

    public bool Recursive { get; init; }

    /// <summary>kubefly's addition: how mounts under the volume propagate (host volumes: as on the host, rkt's rule).</summary>
    public MountPropagation Propagation { get; init; } = MountPropagation.RSlave;

    /// <summary>Octal permission bits of a kind=empty volume.</summary>
    public string Mode { get; init; } = EmptyDefaultMode;

    public int Uid { get; init; }

    public int Gid { get; init; }

    /// <summary>Parses a --volume value; a malformed one is a usage error naming the flag value.</summary>
    public static VolumeSpec Parse(string value)
    {
        try
        {
            return ParseParameters(value);
        }
        catch (FormatException e)
        {
            throw new InvalidValueException($"invalid value in --volume flag \"{value}\": {e.Message}");
        }
    }

    /// <summary>appc's ACName rule, used for volume and app names.</summary>
    public static string? DescribeInvalidName(string name)
    {
        if (name.Length == 0)
        {
            return "ACName cannot be empty";
        }

        if (NamePattern().IsMatch(name))
        {
            return null;
        }

        if (InvalidNameCharacter().IsMatch(name))
        {
            return "ACName must contain only lower case alphanumeric characters plus \"-\"";
        }

        return name.StartsWith('-') || name.EndsWith('-')
            ? "ACName must start and end with only lower case alphanumeric characters"
            : "ACName must match ^[a-z0-9]+([-][a-z0-9]+)*$ (no repeated \"-\")";
    }

    private static VolumeSpec ParseParameters(string value)
    {
        var parameters = KeyValueList.Parse("name=" + value, value);
        string? name = null;
        string? kind = null;
        string? source = null;
        bool? readOnly = null;
        bool? recursive = null;
        string? mode = null;
        int? uid = null;
        int? gid = null;
        MountPropagation? propagation = null;
        foreach (var (key, text) in parameters)
        {
            switch (key)
            {
                case "name":
                    name = DescribeInvalidName(text) is { } problem ? throw new FormatException(problem) : text;
                    break;
                case "kind":
                    kind = text;
                    break;
                case "source":
                    source = text;
                    break;
                case "readOnly":
                    readOnly = ParseGoBool(text);
                    break;
                case "recursive":
                    recursive = ParseGoBool(text);
                    break;
                case "mode":
                    mode = text;
                    break;
                case "uid":
                    uid = ParseInt(text);
                    break;
                case "gid":
                    gid = ParseInt(text);
                    break;
                case "propagation":
                    propagation = text switch
                    {
                        "rslave" => MountPropagation.RSlave,
                        "rshared" => MountPropagation.RShared,
                        "private" => MountPropagation.Private,
                        _ => throw new FormatException($"unknown propagation \"{text}\": should be one of \"private\", \"rslave\", \"rshared\""),
                    };
                    break;
                default:
                    throw new FormatException($"unknown volume parameter \"{key}\"");
            }
        }

        switch (kind)
        {
            case "empty":
                if (source is not null)
                {
                    throw new FormatException("source for empty volume must be empty");
                }

                if (propagation is not null)
                {
                    throw new FormatException("propagation for empty volume cannot be set");
                }

                mode ??= EmptyDefaultMode;
                if (mode.Length is < 1 or > 4 || !mode.All(c => c is >= '0' and <= '7'))
                {
                    throw new FormatException($"mode \"{mode}\" for empty volume must be octal permission bits such as 0755");
                }

                return new VolumeSpec
                {
                    Name = name!,
                    Kind = VolumeKind.Empty,
                    ReadOnly = readOnly ?? false,
                    Recursive = recursive ?? false,
                    Mode = mode,
                    Uid = uid ?? 0,
                    Gid = gid ?? 0,
                };
            case "host":
                if (string.IsNullOrEmpty(source))
                {
                    throw new FormatException("source for host volume cannot be empty");
                }

                if (mode is not null)
                {
                    throw new FormatException("mode for host volume cannot be set");
                }

                if (uid is not null)
                {
                    throw new FormatException("uid for host volume cannot be set");
                }

                if (gid is not null)
                {
                    throw new FormatException("gid for host volume cannot be set");
                }

                if (!source.StartsWith('/'))
                {
                    throw new FormatException("source for host volume must be absolute path");
                }

                return new VolumeSpec
                {
                    Name = name!,
                    Kind = VolumeKind.Host,
                    Source = source,
                    ReadOnly = readOnly ?? false,
                    Recursive = recursive ?? false,
                    Propagation = propagation ?? MountPropagation.AsOnHost,
                };
            default:
                throw new FormatException("unrecognized volume kind: should be one of \"empty\", \"host\"");
        }
    }

    /// <summary>Go's strconv.ParseBool, which appc used for readOnly and recursive.</summary>
    public static bool ParseGoBool(string text) => text switch
    {
        "1" or "t" or "T" or "true" or "TRUE" or "True" => true,
        "0" or "f" or "F" or "false" or "FALSE" or "False" => false,
        _ => throw new FormatException($"strconv.ParseBool: parsing \"{text}\": invalid syntax"),
    };

    private static int ParseInt(string text) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new FormatException($"strconv.Atoi: parsing \"{text}\": invalid syntax");

    [GeneratedRegex("^[a-z0-9]+([-][a-z0-9]+)*$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("[^a-z0-9-]")]
    private static partial Regex InvalidNameCharacter();
}

/// <summary>One --mount: `volume=NAME,target=PATH`, pod-wide before the first image, else for the image before it.</summary>
public sealed record MountSpec
{
    public required string Volume { get; init; }

    public required string Target { get; init; }

    public static MountSpec Parse(string value)
    {
        string? volume = null;
        string? target = null;
        try
        {
            foreach (var (key, text) in KeyValueList.Parse(value, value))
            {
                switch (key)
                {
                    case "volume":
                        volume = VolumeSpec.DescribeInvalidName(text) is { } problem
                            ? throw new FormatException($"invalid volume name \"{text}\" in --mount flag \"{value}\": {problem}")
                            : text;
                        break;
                    case "target":
                        target = text;
                        break;
                    default:
                        throw new FormatException($"unknown mount parameter \"{key}\"");
                }
            }
        }
        catch (FormatException e)
        {
            throw new InvalidValueException(e.Message);
        }

        if (volume is null)
        {
            throw new InvalidValueException($"missing volume= in --mount flag \"{value}\"");
        }

        if (string.IsNullOrEmpty(target))
        {
            throw new InvalidValueException($"missing target= in --mount flag \"{value}\"");
        }

        // rkt joined the target onto the app's rootfs, so a relative target meant the same as an absolute one.
        return new MountSpec { Volume = volume, Target = target.StartsWith('/') ? target : "/" + target };
    }
}

/// <summary>appc's comma-separated KEY=VALUE lists; a key given twice is an error, as in url.ParseQuery.</summary>
internal static class KeyValueList
{
    public static List<(string Key, string Value)> Parse(string list, string original)
    {
        var pairs = new List<(string Key, string Value)>();
        foreach (var part in list.Split(','))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                throw new FormatException($"malformed string \"{original}\" - has a label without a value: {part}");
            }

            var key = part[..eq];
            if (pairs.Exists(p => p.Key == key))
            {
                throw new FormatException($"label {key} with multiple values");
            }

            pairs.Add((key, part[(eq + 1)..]));
        }

        return pairs;
    }
}
