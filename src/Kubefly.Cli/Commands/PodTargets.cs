using Kubefly.Pods;

namespace Kubefly.Cli.Commands;

/// <summary>The `--uuid-file=FILE | UUID...` choice shared by rm, stop and status.</summary>
internal static class PodTargets
{
    /// <summary>
    /// The uuids to act on: the arguments, or the one in the uuid file. Both or neither is a usage error.
    /// An unreadable file is reported as rkt did and yields no uuid (the caller picks the exit code).
    /// </summary>
    public static (IReadOnlyList<string> Uuids, bool FileUnreadable) Select(string command, string[] arguments, string? uuidFile, string usage)
    {
        switch (arguments.Length)
        {
            case 0 when uuidFile is not null:
                try
                {
                    return ([PodOperations.ReadUuidFile(uuidFile)], false);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"{command}: unable to resolve UUID from file: {e.Message}");
                    return ([], true);
                }

            case > 0 when uuidFile is null:
                return (arguments, false);
            default:
                throw new UsageException($"usage: {usage}");
        }
    }
}
