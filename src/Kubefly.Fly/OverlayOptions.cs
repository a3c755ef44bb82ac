using System.Globalization;
using System.Text;

namespace Kubefly.Fly;

/// <summary>Builds overlayfs mount data that fits the one page mount(2) copies, however many layers.</summary>
public static class OverlayOptions
{
    /// <summary>mount(2) copies at most one page of data, NUL included.</summary>
    public const int PageSize = 4096;

    /// <summary>overlayfs stacks at most this many lower layers.</summary>
    public const int MaxLowerLayers = 500;

    /// <param name="lowerBottomFirst">Layer dirs as FlyPlan lists them: bottom first.</param>
    /// <param name="linkDirectory">Where short symlinks go if relative paths are not short enough.</param>
    public static OverlayMount Plan(string target, IReadOnlyList<string> lowerBottomFirst, string upper, string work, string linkDirectory)
    {
        if (lowerBottomFirst.Count == 0)
        {
            throw new FlyException("overlay rootfs: the image has no layers");
        }

        if (lowerBottomFirst.Count > MaxLowerLayers)
        {
            throw new FlyException($"overlay rootfs: {lowerBottomFirst.Count} layers, overlayfs stacks at most {MaxLowerLayers}");
        }

        foreach (var path in lowerBottomFirst.Append(upper).Append(work))
        {
            if (!Path.IsPathRooted(path))
            {
                throw new FlyException($"overlay rootfs: layer and upper/work paths must be absolute: {path}");
            }
        }

        // overlayfs wants the topmost layer first.
        var topFirst = lowerBottomFirst.Reverse().ToList();

        var absolute = Data(topFirst, upper, work);
        if (Fits(absolute))
        {
            return new OverlayMount(target, absolute, null, []);
        }

        var common = CommonDirectory(topFirst);
        if (common is not null)
        {
            var relative = Data(topFirst.Select(p => Path.GetRelativePath(common, p)).ToList(), upper, work);
            if (Fits(relative))
            {
                return new OverlayMount(target, relative, common, []);
            }
        }

        var links = topFirst.Select((path, index) => new OverlayLink(index.ToString(CultureInfo.InvariantCulture), path)).ToList();
        var linked = Data(links.Select(l => l.Name).ToList(), upper, work);
        if (!Fits(linked))
        {
            throw new FlyException($"overlay rootfs: mount options do not fit one page even with short layer names ({Encoding.UTF8.GetByteCount(linked)} bytes; upper {upper}, work {work})");
        }

        return new OverlayMount(target, linked, linkDirectory, links);
    }

    public static bool Fits(string data) => Encoding.UTF8.GetByteCount(data) < PageSize;

    // volatile: the upper dir is fresh per pod and deleted with it, never remounted after a crash, so
    // overlayfs need not sync it; without it, tearing the namespace down at exit syncs the upper fs
    // (most of a short app's run time here).
    private static string Data(IReadOnlyList<string> lowers, string upper, string work) =>
        $"lowerdir={string.Join(':', lowers.Select(Escape))},upperdir={Escape(upper)},workdir={Escape(work)},index=off,volatile";

    /// <summary>overlayfs splits options at ',' and lower dirs at ':'; a backslash escapes either.</summary>
    private static string Escape(string path) =>
        path.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal).Replace(":", "\\:", StringComparison.Ordinal);

    /// <summary>The deepest directory containing every path (never "/", which shortens nothing).</summary>
    private static string? CommonDirectory(IReadOnlyList<string> paths)
    {
        var split = paths.Select(p => p.Split('/', StringSplitOptions.RemoveEmptyEntries)).ToList();
        var length = split.Min(s => s.Length - 1);
        var common = 0;
        while (common < length && split.All(s => s[common] == split[0][common]))
        {
            common++;
        }

        return common == 0 ? null : "/" + string.Join('/', split[0][..common]);
    }
}
