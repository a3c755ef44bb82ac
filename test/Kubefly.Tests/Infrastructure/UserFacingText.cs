using System.Text.RegularExpressions;

namespace Kubefly.Tests.Infrastructure;

/// <summary>
/// What a message in kubefly's words never holds: a .NET resource key (the NativeAOT build strips the
/// resource strings, so users saw "IO_PathTooLong_Path" or "net_http_ssl_connection_failed") or an
/// exception type name. One pattern for every test that checks user-facing text.
/// </summary>
public static partial class UserFacingText
{
    // A resource key's part after its first underscore is mixed case ("IO_PathTooLong_Path"), unlike an
    // environment variable ("KUBELET_IMAGE_TAG"), which messages rightly name.
    [GeneratedRegex(@"\b[A-Z][A-Za-z0-9]*_[A-Z][a-z][A-Za-z0-9_]*\b|\bnet_[a-z_]+\b|\b[A-Z][a-z]+[A-Z][A-Za-z]+(NotFound|Invalid|Expected|Failed)\w*\b|\b[A-Z][A-Za-z]*Exception\b")]
    public static partial Regex NotKubeflysWords();

    /// <summary>
    /// The peak RSS in KiB that `/usr/bin/time -f %M -o FILE` wrote: its last line (GNU time puts
    /// "Command exited with non-zero status N" before it when the command failed).
    /// </summary>
    public static long PeakKilobytes(string timeOutputFile) =>
        long.Parse(File.ReadAllLines(timeOutputFile).Last(line => line.Length > 0).Trim(), System.Globalization.CultureInfo.InvariantCulture);
}
