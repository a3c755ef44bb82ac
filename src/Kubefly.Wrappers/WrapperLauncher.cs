using Kubefly.Fly;
using Kubefly.Linux;

namespace Kubefly.Wrappers;

/// <summary>A wrapper ready to hand off: the engine argv, its environment and how to start it.</summary>
public sealed record PreparedWrapper(WrapperInvocation Invocation, EngineHandOff HandOff, IReadOnlyDictionary<string, string> Environment);

/// <summary>
/// Runs a wrapper up to the hand-off, in the original's order: deprecations, required variables,
/// (kubelet) the API check, host directories, shared mount points, the trace line.
/// </summary>
public static class WrapperLauncher
{
    public static PreparedWrapper Prepare(WrapperProfile profile, IReadOnlyDictionary<string, string> environment, IReadOnlyList<string> arguments, TextWriter diagnostics)
    {
        WrapperInvocation invocation;
        try
        {
            invocation = WrapperComposer.Compose(profile, environment, arguments, HostView.Current);
        }
        catch (WrapperConfigurationException e)
        {
            WriteLines(diagnostics, e.Notices);
            throw;
        }

        WriteLines(diagnostics, invocation.Notices);
        if (profile.ChecksKubeletApi)
        {
            CheckKubeletApi(profile, environment, arguments, diagnostics);
        }

        foreach (var directory in invocation.Directories)
        {
            CreateHostDirectory(directory);
        }

        foreach (var mountPoint in invocation.SharedMountPoints)
        {
            if (HostMountPoints.EnsureShared(mountPoint) != HostMountPoints.SharedSetup.AlreadyShared)
            {
                diagnostics.WriteLine($"{profile.ProgramName}: made {mountPoint} a shared mount point, so the kubelet's mounts under it reach the host");
            }
        }

        diagnostics.WriteLine(invocation.Trace);
        diagnostics.Flush();

        var engineEnvironment = new Dictionary<string, string>(environment, StringComparer.Ordinal);
        foreach (var (name, value) in invocation.EnvironmentOverrides)
        {
            engineEnvironment[name] = value;
        }

        environment.TryGetValue("PATH", out var searchPath);
        var handOff = EngineHandOff.Decide(invocation.Argv[0], searchPath);
        return new PreparedWrapper(invocation, handOff, engineEnvironment);
    }

    private static void CheckKubeletApi(WrapperProfile profile, IReadOnlyDictionary<string, string> environment, IReadOnlyList<string> arguments, TextWriter diagnostics)
    {
        environment.TryGetValue(KubeletApiCheck.PolicyVariable, out var policyValue);
        var policy = KubeletApiCheck.ReadPolicy(policyValue);
        var report = KubeletApiCheck.Evaluate(arguments, File.ReadAllText);
        foreach (var hint in report.RemovedFlagHints)
        {
            diagnostics.WriteLine($"{profile.ProgramName}: hint: {hint}");
        }

        if (policy == KubeletApiPolicy.Off || report.IsSecure)
        {
            return;
        }

        var problems = report.Findings.Select(f => f.ToString()).ToList();
        if (report.Incomplete is not null)
        {
            problems.Add(report.Incomplete);
        }

        if (policy == KubeletApiPolicy.Enforce)
        {
            throw new WrapperConfigurationException(
                $"{profile.ProgramName}: refusing to start the kubelet ({KubeletApiCheck.PolicyVariable}=enforce): {string.Join("; ", problems)}");
        }

        foreach (var problem in problems)
        {
            diagnostics.WriteLine($"{profile.ProgramName}: warning: {problem}");
        }

        diagnostics.WriteLine($"{profile.ProgramName}: warning: anyone who can reach the kubelet's ports can control its pods; set {KubeletApiCheck.PolicyVariable}=enforce to refuse such a start");
    }

    /// <summary>mkdir --parents; a directory created here gets the owner (etcd's data dir), an existing one is left alone.</summary>
    private static void CreateHostDirectory(DirectoryToCreate directory)
    {
        if (Path.Exists(directory.Path))
        {
            return;
        }

        Directory.CreateDirectory(directory.Path);
        if (directory.Owner is { } owner)
        {
            Interop.ChangeOwner(directory.Path, owner.UserId, owner.GroupId);
        }
    }

    private static void WriteLines(TextWriter writer, IEnumerable<string> lines)
    {
        foreach (var line in lines)
        {
            writer.WriteLine(line);
        }

        writer.Flush();
    }
}
