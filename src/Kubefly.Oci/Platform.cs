using System.Runtime.InteropServices;

namespace Kubefly.Oci;

/// <summary>An OCI platform: os/architecture[/variant], as in "linux/arm64/v8".</summary>
public readonly record struct Platform(string Os, string Architecture, string? Variant = null)
{
    public static Platform Host { get; } = DetectHost();

    public static Platform Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0))
        {
            throw new InvalidValueException($"invalid platform \"{UntrustedText.Printable(text)}\": expected OS/ARCH[/VARIANT], e.g. linux/arm64/v8");
        }

        return Normalize(new Platform(parts[0], parts[1], parts.Length == 3 ? parts[2] : null));
    }

    /// <summary>Variants this platform can run, best first ("v7" runs v7, v6 and v5 images).</summary>
    public IReadOnlyList<string?> CompatibleVariants()
    {
        string[] armOrder = ["v8", "v7", "v6", "v5"];
        return Architecture switch
        {
            "arm64" => Variant is null or "v8" ? ["v8", null] : [Variant],
            "arm" when Variant is not null && Array.IndexOf(armOrder, Variant) is var i and >= 0 => [.. armOrder[i..], null],
            "amd64" => Variant is null or "v1" ? [null, "v1"] : [Variant],
            _ => [Variant],
        };
    }

    /// <summary>Whether an index entry's platform can run here, and how well (lower is better; -1 no).</summary>
    public int MatchRank(ManifestPlatform? candidate)
    {
        if (candidate is null || candidate.Os != Os || candidate.Architecture != Architecture)
        {
            return -1;
        }

        var variant = string.IsNullOrEmpty(candidate.Variant) ? null : candidate.Variant;
        if (Architecture == "arm64" && variant is null)
        {
            variant = "v8";
        }

        var compatible = CompatibleVariants();
        for (var i = 0; i < compatible.Count; i++)
        {
            if (compatible[i] == variant)
            {
                return i;
            }
        }

        return -1;
    }

    public override string ToString() => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";

    private static Platform Normalize(Platform p) => p.Architecture switch
    {
        "x86_64" or "x86-64" => p with { Architecture = "amd64" },
        "aarch64" => p with { Architecture = "arm64", Variant = p.Variant ?? "v8" },
        "armhf" => p with { Architecture = "arm", Variant = p.Variant ?? "v7" },
        "armel" => p with { Architecture = "arm", Variant = p.Variant ?? "v6" },
        "arm64" => p with { Variant = p.Variant ?? "v8" },
        _ => p,
    };

    private static Platform DetectHost() => RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => new Platform("linux", "amd64"),
        System.Runtime.InteropServices.Architecture.Arm64 => new Platform("linux", "arm64", "v8"),
        System.Runtime.InteropServices.Architecture.Arm => new Platform("linux", "arm", "v7"),
        System.Runtime.InteropServices.Architecture.X86 => new Platform("linux", "386"),
        System.Runtime.InteropServices.Architecture.Ppc64le => new Platform("linux", "ppc64le"),
        System.Runtime.InteropServices.Architecture.S390x => new Platform("linux", "s390x"),
        System.Runtime.InteropServices.Architecture.RiscV64 => new Platform("linux", "riscv64"),
        System.Runtime.InteropServices.Architecture.LoongArch64 => new Platform("linux", "loong64"),
        var other => new Platform("linux", other.ToString().ToLowerInvariant()),
    };
}
