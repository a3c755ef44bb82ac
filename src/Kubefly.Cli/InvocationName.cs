namespace Kubefly.Cli;

internal static class InvocationName
{
    /// <summary>
    /// The basename of argv[0] exactly as the caller gave it (a symlink's name, not its target), read
    /// from /proc/self/cmdline because the runtime reports the resolved executable path.
    /// </summary>
    /// <summary>Names the multi-call role regardless of argv[0] (tests; systems that cannot make symlinks).</summary>
    public const string OverrideVariable = "KUBEFLY_INVOKED_AS";

    public static string Current()
    {
        var overridden = Environment.GetEnvironmentVariable(OverrideVariable);
        if (!string.IsNullOrEmpty(overridden))
        {
            return overridden;
        }

        try
        {
            var cmdline = File.ReadAllBytes("/proc/self/cmdline");
            var end = Array.IndexOf(cmdline, (byte)0);
            var argv0 = System.Text.Encoding.UTF8.GetString(cmdline, 0, end < 0 ? cmdline.Length : end);
            return Path.GetFileName(argv0);
        }
        catch (IOException)
        {
            return "kubefly";
        }
    }
}
