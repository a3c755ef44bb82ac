using Kubefly.Linux;

namespace Kubefly.Wrappers;

public enum HandOffKind
{
    /// <summary>$RKT is this very executable (or missing): run the engine inside this process, which then execs the app.</summary>
    InProcess,

    /// <summary>$RKT is another program (a real rkt, a stand-in): execve it with the composed argv.</summary>
    Exec,
}

/// <summary>How the wrapper hands the composed command line to the engine.</summary>
public sealed record EngineHandOff(HandOffKind Kind, string? ExecutablePath)
{
    private const string SelfExecutable = "/proc/self/exe";

    /// <summary>
    /// Decides for argv[0] (`$RKT`): a name without a slash is looked up in PATH as the shell did.
    /// Same device and inode as /proc/self/exe after following symlinks means this binary (so
    /// /usr/bin/rkt -> kubefly runs in-process); a missing engine also runs in-process, since kubefly
    /// is the engine. Anything else is exec'd.
    /// </summary>
    public static EngineHandOff Decide(string engine, string? searchPath)
    {
        var path = engine.Contains('/', StringComparison.Ordinal) ? engine : FindInPath(engine, searchPath);
        if (path is null || Interop.TryGetPathStatus(path, followSymlinks: true, out var target) != 0)
        {
            return new EngineHandOff(HandOffKind.InProcess, null);
        }

        var self = Interop.GetPathStatus(SelfExecutable, followSymlinks: true);
        return target.IsSameFileAs(self)
            ? new EngineHandOff(HandOffKind.InProcess, path)
            : new EngineHandOff(HandOffKind.Exec, path);
    }

    private static string? FindInPath(string name, string? searchPath)
    {
        foreach (var directory in (searchPath ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            var candidate = Path.Combine(directory.Length == 0 ? "." : directory, name);
            if (Interop.TryGetPathStatus(candidate, followSymlinks: true, out var status) == 0 && status.IsRegularFile)
            {
                return candidate;
            }
        }

        return null;
    }
}
