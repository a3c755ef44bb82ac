using System.Security.Cryptography;
using Kubefly.Images.Store;
using Kubefly.Oci;

namespace Kubefly.Images;

/// <summary>
/// DIR/import/, the air-gap drop box (k3s and k0s load images from such a directory): archives placed
/// there are imported when a command needs an image the store lacks, or at once by the path unit
/// `kubefly unit import` prints. Each file is imported once, recognised by its digest
/// (import/.imported/HEX); a file that fails is moved to import/failed/ with the reason beside it, so it
/// is reported once and never retried in a loop. Only root may write there: whoever can drop an archive
/// names what the node runs.
/// </summary>
public sealed class ImportDirectory(string stateDirectory, ImageImporter importer, Action<string> report)
{
    public string Path { get; } = System.IO.Path.Combine(stateDirectory, "import");

    private string ImportedDirectory => System.IO.Path.Combine(Path, ".imported");

    private string FailedDirectory => System.IO.Path.Combine(Path, "failed");

    /// <summary>
    /// Whether any archive stands in the directory, imported before or not: a look at the directory only,
    /// so a warm `run` on a node that imports nothing does not read the store's records to decide.
    /// </summary>
    public bool HoldsArchives() =>
        Directory.Exists(Path) && Directory.EnumerateFiles(Path).Any(f => !System.IO.Path.GetFileName(f).StartsWith('.'));

    /// <summary>Imports every file not imported before; returns how many were imported now.</summary>
    public async Task<int> ImportPendingAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(Path))
        {
            return 0;
        }

        StateDirectory.Check(Path);
        var imported = 0;
        foreach (var file in Directory.EnumerateFiles(Path).Where(f => !System.IO.Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList())
        {
            var info = new FileInfo(file);
            if (info.LinkTarget is not null)
            {
                report($"import: skipping {file}: a symbolic link (place the archive itself in {Path})");
                continue;
            }

            var marker = System.IO.Path.Combine(ImportedDirectory, Hash(file));
            if (File.Exists(marker))
            {
                continue;
            }

            try
            {
                var record = await importer.ImportAsync(file, name: null, cancellationToken).ConfigureAwait(false);
                StateDirectory.Ensure(ImportedDirectory, StateDirectory.Mode0755);
                await File.WriteAllTextAsync(marker, $"{record.ManifestDigest} {string.Join(",", record.Names)}\n", cancellationToken).ConfigureAwait(false);
                report($"import: imported {file} as {string.Join(", ", record.Names)} ({record.ManifestDigest})");
                imported++;
            }
            catch (KubeflyException e)
            {
                StateDirectory.Ensure(FailedDirectory, StateDirectory.Mode0755);
                var moved = System.IO.Path.Combine(FailedDirectory, System.IO.Path.GetFileName(file));
                File.Move(file, moved, overwrite: true);
                await File.WriteAllTextAsync(moved + ".error", e.Message + "\n", cancellationToken).ConfigureAwait(false);
                report($"import: {file} was not imported and is moved to {moved}: {e.Message}");
            }
        }

        return imported;
    }

    private static string Hash(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
