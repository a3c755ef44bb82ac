using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Wrappers;

/// <summary>What a wrapper does, decided from its environment and arguments before anything on the host changes.</summary>
public sealed record WrapperInvocation
{
    /// <summary>The engine's argv: argv[0] is $RKT (default /usr/bin/rkt).</summary>
    public required IReadOnlyList<string> Argv { get; init; }

    /// <summary>Lines for stderr before the trace: deprecations, skipped volumes.</summary>
    public IReadOnlyList<string> Notices { get; init; } = [];

    /// <summary>Host directories to create when missing (with the owner to give a newly created one).</summary>
    public IReadOnlyList<DirectoryToCreate> Directories { get; init; } = [];

    /// <summary>Host directories that must be shared mount points (the rshared volumes' sources).</summary>
    public IReadOnlyList<string> SharedMountPoints { get; init; } = [];

    /// <summary>Variables the engine's environment gets changed.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> EnvironmentOverrides { get; init; } = [];

    /// <summary>The unit's own arguments ("$@"): the kubelet's flags for kubelet-wrapper.</summary>
    public IReadOnlyList<string> AppArguments { get; init; } = [];

    /// <summary>`set -x` style: how the original printed the exec line.</summary>
    public string Trace => ShellWords.Trace(Argv);
}

public sealed record DirectoryToCreate(string Path, PasswdEntry? Owner);

/// <summary>A wrapper's own configuration error: the original printed a line and exited 1.</summary>
public sealed class WrapperConfigurationException : KubeflyException
{
    public WrapperConfigurationException(string message, IReadOnlyList<string>? notices = null)
        : base(message)
    {
        Notices = notices ?? [];
    }

    /// <summary>The lines printed before the failure (deprecations come first, as in the original).</summary>
    public IReadOnlyList<string> Notices { get; }

    /// <summary>The original scripts exit 1 here; the engine's usage (2) and failure (254) codes do not apply.</summary>
    public int ExitCode => 1;
}
