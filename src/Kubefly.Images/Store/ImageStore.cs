using System.Text.Json;
using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Images.Store;

/// <summary>
/// The content-addressed image store under DIR/images:
/// <code>
/// blobs/sha256/HEX        manifests, configs, compressed layers, each verified before it got its name
/// layers/sha256/DIFFID/   each layer unpacked once (an overlayfs lower dir), shared between images
/// records/HEX.json        one per image (HEX = manifest digest), written last
/// pins/HEX/POD            pods using an image; image rm/gc leave pinned images alone (transient
///                         pods pin theirs in the runtime directory, see RuntimeDirectory)
/// verified/BLOB-DIFFID    blob BLOB decompressed and hashed to DIFFID once (removed with the blob)
/// locks/, tmp/            per-item locks and per-process scratch space
/// store.lock              shared while fetching, exclusive while removing
/// </code>
/// Every write goes to tmp/, is verified and fsynced, then renamed into place: a name in blobs/, layers/
/// or records/ only ever points at complete, verified content, whenever a crash happens.
/// </summary>
public sealed class ImageStore
{
    public ImageStore(string stateDirectory)
    {
        Root = Path.Combine(Path.GetFullPath(stateDirectory), "images");
    }

    public string Root { get; }

    private string StateDirectoryPath => Path.GetDirectoryName(Root)!;

    /// <summary>Where cleanup failures go: they are reported and skipped, never the failure of the command that triggered them.</summary>
    public Action<string> Warn { get; init; } = message => Console.Error.WriteLine($"warning: {message}");

    private string BlobsDirectory => Path.Combine(Root, "blobs", Digest.Sha256Algorithm);

    private string LayersDirectory => Path.Combine(Root, "layers", Digest.Sha256Algorithm);

    private string RecordsDirectory => Path.Combine(Root, "records");

    private string PinsDirectory => Path.Combine(Root, "pins");

    private string LocksDirectory => Path.Combine(Root, "locks");

    private string HoldsDirectory => Path.Combine(Root, "holds");

    private string VerifiedDirectory => Path.Combine(Root, "verified");

    // Per layer, its regular files by content digest (Chunked/LayerFileTable.cs): beside the layers, not
    // in them, as a layer directory is an overlay lowerdir and everything in it shows in the pod.
    private string FileTablesDirectory => Path.Combine(Root, "files", Digest.Sha256Algorithm);

    private string TempDirectory => Path.Combine(Root, "tmp");

    /// <summary>
    /// Creates the layout, or checks it is safe to trust (see <see cref="StateDirectory"/>): the state
    /// directory 0755, everything under images/ 0700 (layers hold image files with their own owners and
    /// setuid bits).
    /// </summary>
    public void EnsureCreated()
    {
        StateDirectory.Ensure(Path.GetDirectoryName(Root)!, StateDirectory.Mode0755);
        foreach (var dir in new[] { Root, Path.GetDirectoryName(BlobsDirectory)!, BlobsDirectory, Path.GetDirectoryName(LayersDirectory)!, LayersDirectory, RecordsDirectory, PinsDirectory, LocksDirectory, TempDirectory, VerifiedDirectory, HoldsDirectory })
        {
            StateDirectory.Ensure(dir, StateDirectory.Mode0700);
        }
    }

    /// <summary>For readers that create nothing: the directories leading to the records must be safe to trust.</summary>
    private void CheckTrusted()
    {
        StateDirectory.Check(Path.GetDirectoryName(Root)!);
        StateDirectory.Check(Root);
        StateDirectory.Check(RecordsDirectory);
    }

    /// <summary>Held (shared) by fetches and pod start-up; held exclusively by image rm and gc.</summary>
    public FileLock LockStore(bool exclusive)
    {
        EnsureCreated();
        return FileLock.Acquire(Path.Combine(Root, "store.lock"), exclusive);
    }

    /// <summary>Serializes producers of one blob or layer, so concurrent fetches store it once.</summary>
    public FileLock LockItem(Digest digest) => FileLock.Acquire(Path.Combine(LocksDirectory, digest.Hex + ".lock"), exclusive: true);

    public string BlobPath(Digest digest) => Path.Combine(BlobsDirectory, digest.Hex);

    public bool HasBlob(Digest digest) => File.Exists(BlobPath(digest));

    public string LayerPath(Digest diffId) => Path.Combine(LayersDirectory, diffId.Hex);

    /// <summary>Whether blob <paramref name="blob"/> was decompressed and hashed to <paramref name="diffId"/> by an earlier pull.</summary>
    public bool IsVerifiedDiffId(Digest blob, Digest diffId) => File.Exists(VerifiedPath(blob, diffId));

    /// <summary>
    /// Records that <paramref name="blob"/> decompresses to <paramref name="diffId"/>: a fact about content,
    /// so the empty marker needs no fsync (a lost one costs one more decompression). Removed with the blob.
    /// </summary>
    public void RecordVerifiedDiffId(Digest blob, Digest diffId)
    {
        Directory.CreateDirectory(VerifiedDirectory);
        File.WriteAllBytes(VerifiedPath(blob, diffId), []);
    }

    private string VerifiedPath(Digest blob, Digest diffId) => Path.Combine(VerifiedDirectory, blob.Hex + "-" + diffId.Hex);

    public bool HasLayer(Digest diffId) => Directory.Exists(LayerPath(diffId));

    /// <summary>The diff_ids of every unpacked layer.</summary>
    public IEnumerable<Digest> ListLayers() =>
        Directory.Exists(LayersDirectory)
            ? Directory.EnumerateDirectories(LayersDirectory).Select(Path.GetFileName).Where(n => Digest.TryParse($"{Digest.Sha256Algorithm}:{n}", out _)).Select(n => Digest.Parse($"{Digest.Sha256Algorithm}:{n}"))
            : [];

    /// <summary>Where the table of a layer's files by content digest is (written at unpack; absent for layers stored before it existed).</summary>
    public string FileTablePath(Digest diffId) => Path.Combine(FileTablesDirectory, diffId.Hex);

    /// <summary>
    /// Gives a layer's file table its name: an index, so no fsync (a lost or torn one only costs a file
    /// fetched again; the reader refuses damage).
    /// </summary>
    public void CommitFileTable(string tempPath, Digest diffId)
    {
        Directory.CreateDirectory(FileTablesDirectory);
        File.Move(tempPath, FileTablePath(diffId), overwrite: true);
    }

    /// <summary>
    /// Reads a blob for a pod's start: no re-hash. The store names only content verified before its rename
    /// (the invariant above) in a root-only directory, and hashing here would load OpenSSL on every run,
    /// a cost twice the rest of the store's part of `run`. <see cref="ReadBlob"/> re-verifies.
    /// </summary>
    public byte[] ReadStoredBlob(Digest digest) => File.ReadAllBytes(BlobPath(digest));

    /// <summary>Reads a blob and checks it against its digest again (export, cat-manifest: content leaving the store).</summary>
    public byte[] ReadBlob(Digest digest)
    {
        var bytes = File.ReadAllBytes(BlobPath(digest));
        var actual = Digest.Compute(bytes);
        return actual.FixedTimeEquals(digest) ? bytes : throw new DigestMismatchException($"store blob {digest} (at {BlobPath(digest)})", digest, actual);
    }

    /// <summary>Scratch space private to the caller, deleted on dispose unless its content was committed.</summary>
    public TempArea CreateTempArea()
    {
        EnsureCreated();
        return TempArea.Create(TempDirectory, Warn);
    }

    /// <summary>Stores bytes already in memory (manifests, configs), verifying them against their digest.</summary>
    public void PutBlob(Digest digest, ReadOnlySpan<byte> content)
    {
        var actual = Digest.Compute(content);
        if (!actual.FixedTimeEquals(digest))
        {
            throw new DigestMismatchException($"blob {digest}", digest, actual);
        }

        if (HasBlob(digest))
        {
            return;
        }

        using var temp = CreateTempArea();
        var path = temp.NewFilePath();
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            file.Write(content);
            file.Flush(flushToDisk: true);
        }

        CommitBlob(path, digest, actual);
    }

    /// <summary>Gives a verified, fsynced temp file its content address. A no-op if another process won the race.</summary>
    public void CommitBlob(string tempPath, Digest expected, Digest verified)
    {
        if (!expected.FixedTimeEquals(verified))
        {
            throw new DigestMismatchException($"blob {expected}", expected, verified);
        }

        File.Move(tempPath, BlobPath(expected), overwrite: true);
        Interop.FsyncDirectory(BlobsDirectory);
    }

    /// <summary>Gives a fully unpacked and verified staging directory its diff_id name.</summary>
    public void CommitLayer(string stagingDirectory, Digest diffId)
    {
        var target = LayerPath(diffId);
        if (Directory.Exists(target))
        {
            return;
        }

        Directory.Move(stagingDirectory, target);
        Interop.FsyncDirectory(LayersDirectory);
    }

    public void WriteRecord(ImageRecord record)
    {
        EnsureCreated();
        using var temp = CreateTempArea();
        var path = temp.NewFilePath();
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            ImageRecordJson.Write(file, record);
            file.Flush(flushToDisk: true);
        }

        File.Move(path, RecordPath(record.ManifestDigest), overwrite: true);
        Interop.FsyncDirectory(RecordsDirectory);
    }

    /// <summary>Every readable record, oldest first; corrupt ones are skipped (<see cref="ListCorruptRecords"/> names them).</summary>
    public IReadOnlyList<ImageRecord> ListRecords() => Scan().Records;

    /// <summary>Record files that cannot be read as a record: reported by image list, removed by image rm and gc.</summary>
    public IReadOnlyList<CorruptImageRecord> ListCorruptRecords() => Scan().Corrupt;

    /// <summary>The record of an image, or null when there is none or it is corrupt (a fetch then writes it again).</summary>
    public ImageRecord? FindRecord(Digest manifestDigest) => ReadRecord(RecordPath(manifestDigest), out _);

    /// <summary>
    /// The corrupt record a user named: by its file (path or name), or by the image ID its file name
    /// carries (full, or a unique prefix as for <see cref="Find"/>).
    /// </summary>
    public CorruptImageRecord? FindCorrupt(string nameOrId)
    {
        var corrupt = ListCorruptRecords();
        var byFile = corrupt.FirstOrDefault(c => c.File == nameOrId || Path.GetFileName(c.File) == nameOrId);
        if (byFile is not null)
        {
            return byFile;
        }

        if (IdPrefix(nameOrId) is not { } prefix)
        {
            return null;
        }

        var matches = corrupt.Where(c => Path.GetFileNameWithoutExtension(c.File).StartsWith(prefix, StringComparison.Ordinal)).ToList();
        return matches.Count == 1 ? matches[0] : null;
    }

    /// <summary>Deletes a corrupt record, then whatever content no readable record needs. Refuses while pods use the image.</summary>
    public void RemoveCorrupt(CorruptImageRecord corrupt)
    {
        ArgumentNullException.ThrowIfNull(corrupt);
        if (corrupt.ManifestDigest is { } digest && PinnedBy(digest) is { Count: > 0 } pods)
        {
            throw new ImageException($"corrupt image record {corrupt.File} is used by pod(s) {string.Join(", ", pods)}; remove the pods first");
        }

        File.Delete(corrupt.File);
        Interop.FsyncDirectory(RecordsDirectory);
        DeleteUnreferencedContent();
    }

    private (List<ImageRecord> Records, List<CorruptImageRecord> Corrupt) Scan()
    {
        CheckTrusted();
        var records = new List<ImageRecord>();
        var corrupt = new List<CorruptImageRecord>();
        if (!Directory.Exists(RecordsDirectory))
        {
            return (records, corrupt);
        }

        foreach (var file in Directory.EnumerateFiles(RecordsDirectory, "*.json"))
        {
            if (ReadRecord(file, out var problem) is { } record)
            {
                records.Add(record);
            }
            else if (problem is not null)
            {
                var stem = Path.GetFileNameWithoutExtension(file);
                corrupt.Add(new CorruptImageRecord(file, Digest.TryParse(Digest.Sha256Algorithm + ":" + stem, out var digest) ? digest : null, problem));
            }
        }

        return (records.OrderBy(r => r.ImportTime).ToList(), corrupt);
    }

    /// <summary>
    /// Finds an image by what a user typed: a digest or unique digest prefix ("sha256:ab12", "sha256-ab12",
    /// "ab12..."), or a name in any form that normalizes to a stored name ("busybox" = docker.io/library/busybox:latest).
    /// </summary>
    public ImageRecord? Find(string nameOrId)
    {
        var records = ListRecords();
        if (IdPrefix(nameOrId) is { } prefix)
        {
            var matches = records.Where(r => r.ManifestDigest.Hex.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            if (matches.Count > 1)
            {
                throw new ImageException($"image ID \"{UntrustedText.Printable(nameOrId)}\" is ambiguous: it matches {matches.Count} images");
            }

            if (matches.Count == 1)
            {
                return matches[0];
            }
        }

        var name = CanonicalName(nameOrId);
        return name is null ? null : records.Where(r => r.Names.Contains(name)).OrderByDescending(r => r.ImportTime).FirstOrDefault();
    }

    /// <summary>The name under which a reference is recorded, or null when the text is no valid reference.</summary>
    public static string? CanonicalName(string nameOrReference) =>
        ImageReference.TryParse(nameOrReference, out var reference, out _) ? reference.ToString() : null;

    /// <summary>An image as the fly stage needs it. Throws if any layer is missing (a damaged store).</summary>
    public StoredImage Load(ImageRecord record)
    {
        var config = ManifestResolver.ParseConfig(ReadStoredBlob(record.ConfigDigest), $"image {record.ManifestDigest}");
        var layers = record.Layers.Select(l => LayerPath(l.DiffId)).ToList();
        foreach (var layer in layers)
        {
            if (!Directory.Exists(layer))
            {
                throw new ImageException($"image {record.ManifestDigest}: unpacked layer {layer} is missing from the store; fetch the image again");
            }
        }

        return new StoredImage
        {
            ManifestDigest = record.ManifestDigest,
            ConfigDigest = record.ConfigDigest,
            Names = record.Names,
            Config = config,
            LayerDirectories = layers,
            ImportTime = record.ImportTime,
            LastUsed = record.LastUsed,
            Size = record.Size,
        };
    }

    /// <summary>
    /// Records a use (rkt's "last used" column, and what image gc's grace period measures) as the record
    /// file's mtime: one utimensat instead of rewriting and fsyncing the record on every pod start. A use
    /// lost to a crash only makes the image look older to gc, never breaks the record.
    /// </summary>
    public void Touch(Digest manifestDigest)
    {
        try
        {
            File.SetLastWriteTimeUtc(RecordPath(manifestDigest), DateTime.UtcNow);
        }
        catch (FileNotFoundException)
        {
            // removed meanwhile: nothing to record
        }
    }

    /// <summary>
    /// Marks an image as used by a pod. The pin names the pods directory: the pod exists while a directory
    /// named <paramref name="podId"/> stands in one of its state directories (pods move between them), and
    /// the pin goes stale by itself once the pod is removed. A transient pod's pin lives beside it in the
    /// runtime directory (<see cref="RuntimeDirectory"/>), so the reboot that ends the pod ends its pin.
    /// </summary>
    public void Pin(Digest manifestDigest, string podId, string podsDirectory, bool transient = false)
    {
        var pins = PinsDirectory;
        if (transient)
        {
            pins = Path.Combine(RuntimeDirectory.Ensure(StateDirectoryPath), "pins");
            StateDirectory.Ensure(pins, StateDirectory.Mode0700);
        }

        var dir = Path.Combine(pins, manifestDigest.Hex);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, podId), podsDirectory);
    }

    /// <summary>Removes a pod's pin (absent is fine: a pod from a test image provider, or pruned already).</summary>
    public void Unpin(Digest manifestDigest, string podId)
    {
        foreach (var pins in PinDirectories())
        {
            var pin = Path.Combine(pins, manifestDigest.Hex, podId);
            if (File.Exists(pin))
            {
                File.Delete(pin);
            }
        }
    }

    /// <summary>
    /// Deletes every stale pin (its pod is gone and it is past <see cref="PinGracePeriod"/>) and the pin
    /// directories left empty, so pins never outlive their pods (pod gc calls this).
    /// </summary>
    public void PruneStalePins()
    {
        foreach (var pins in PinDirectories())
        {
            foreach (var dir in Directory.EnumerateDirectories(pins))
            {
                if (!Digest.TryParse($"{Digest.Sha256Algorithm}:{Path.GetFileName(dir)}", out var digest))
                {
                    continue;
                }

                if (PinnedBy(digest).Count == 0 && !Directory.EnumerateFileSystemEntries(dir).Any())
                {
                    Directory.Delete(dir);
                }
            }
        }
    }

    /// <summary>
    /// A pin is written under the shared store lock just before its pod is created, so a pin this young
    /// counts even while no pod directory stands yet; an older one without its pod is stale.
    /// </summary>
    public static readonly TimeSpan PinGracePeriod = TimeSpan.FromMinutes(1);

    /// <summary>Pods still using the image (pins whose pod directory still exists, or that are being created); stale pins are deleted.</summary>
    public IReadOnlyList<string> PinnedBy(Digest manifestDigest)
    {
        var pods = new List<string>();
        foreach (var pins in PinDirectories())
        {
            var dir = Path.Combine(pins, manifestDigest.Hex);
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (var pin in Directory.EnumerateFiles(dir))
            {
                var podId = Path.GetFileName(pin);
                var podsDirectory = File.ReadAllText(pin);
                var alive = (Directory.Exists(podsDirectory) && Directory.EnumerateDirectories(podsDirectory).Any(state => Directory.Exists(Path.Combine(state, podId))))
                    || DateTime.UtcNow - File.GetLastWriteTimeUtc(pin) < PinGracePeriod;
                if (alive)
                {
                    pods.Add(podId);
                }
                else
                {
                    File.Delete(pin);
                }
            }
        }

        return pods;
    }

    /// <summary>The pin directories that exist: the store's own, and the runtime directory's for transient pods.</summary>
    private List<string> PinDirectories()
    {
        var directories = new List<string>(2);
        if (Directory.Exists(PinsDirectory))
        {
            directories.Add(PinsDirectory);
        }

        if (RuntimeDirectory.Existing(StateDirectoryPath) is { } runtime && Directory.Exists(Path.Combine(runtime, "pins")))
        {
            directories.Add(Path.Combine(runtime, "pins"));
        }

        return directories;
    }

    /// <summary>
    /// Keeps an image for a holder that is no pod (auto-update keeps the image a unit ran before its last
    /// update, to roll back to): gc and rm leave it alone until the holder names another image or is
    /// released. One image per holder; the file is replaced atomically.
    /// </summary>
    public void Hold(string holder, Digest manifestDigest)
    {
        CheckHolderName(holder);
        StateDirectory.Ensure(HoldsDirectory, StateDirectory.Mode0700);
        var path = Path.Combine(HoldsDirectory, holder);
        var temporary = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(temporary, manifestDigest.ToString());
        File.Move(temporary, path, overwrite: true);
        Interop.FsyncDirectory(HoldsDirectory);
    }

    /// <summary>The image a holder keeps, or null.</summary>
    public Digest? HeldBy(string holder)
    {
        CheckHolderName(holder);
        var path = Path.Combine(HoldsDirectory, holder);
        return File.Exists(path) && Digest.TryParse(File.ReadAllText(path).Trim(), out var digest) ? digest : null;
    }

    /// <summary>The holders keeping an image (<see cref="Hold"/>).</summary>
    public IReadOnlyList<string> HoldersOf(Digest manifestDigest)
    {
        if (!Directory.Exists(HoldsDirectory))
        {
            return [];
        }

        var wanted = manifestDigest.ToString();
        return Directory.EnumerateFiles(HoldsDirectory)
            .Where(f => !Path.GetFileName(f).Contains(".tmp-", StringComparison.Ordinal) && File.ReadAllText(f).Trim() == wanted)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>True when a pod uses the image or a holder keeps it: gc must leave it.</summary>
    public bool IsInUse(Digest manifestDigest) => PinnedBy(manifestDigest).Count > 0 || HoldersOf(manifestDigest).Count > 0;

    /// <summary>
    /// Gives the image a name, taking it from any image that had it (a tag names one image). Call under
    /// the store lock.
    /// </summary>
    public ImageRecord Name(ImageRecord record, string name)
    {
        foreach (var other in ListRecords())
        {
            if (other.ManifestDigest != record.ManifestDigest && other.Names.Contains(name))
            {
                WriteRecord(other with { Names = other.Names.Where(n => n != name).ToList() });
            }
        }

        var named = record with { Names = record.Names.Contains(name) ? record.Names : [.. record.Names, name] };
        WriteRecord(named);
        return named;
    }

    private static void CheckHolderName(string holder)
    {
        if (holder.Length is 0 or > 255 || holder[0] == '.' || holder.Contains(".tmp-", StringComparison.Ordinal)
            || !holder.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@' or ':' or '\\'))
        {
            throw new ImageException($"invalid image holder name \"{UntrustedText.Printable(holder)}\"");
        }
    }

    /// <summary>
    /// Deletes an image's record, then every blob and layer no remaining image needs. Call under the
    /// exclusive store lock. Refuses images that pods use or a holder keeps.
    /// </summary>
    public void Remove(ImageRecord record)
    {
        var pods = PinnedBy(record.ManifestDigest);
        if (pods.Count > 0)
        {
            throw new ImageException($"image {record.ManifestDigest} is used by pod(s) {string.Join(", ", pods)}; remove the pods first");
        }

        if (HoldersOf(record.ManifestDigest) is { Count: > 0 } holders)
        {
            throw new ImageException($"image {record.ManifestDigest} is kept by {string.Join(", ", holders)} (auto-update's image to roll back to); it is let go after that unit's next successful update");
        }

        File.Delete(RecordPath(record.ManifestDigest));
        Interop.FsyncDirectory(RecordsDirectory);
        DeleteUnreferencedContent();
    }

    /// <summary>Removes blobs and layers that no record names, and scratch space no live process holds.</summary>
    public void DeleteUnreferencedContent()
    {
        var (records, corrupt) = Scan();
        if (corrupt.FirstOrDefault(c => c.ManifestDigest is { } digest && PinnedBy(digest).Count > 0) is { } used)
        {
            // Its layers cannot be told from garbage, and a running pod may have them mounted.
            Warn($"keeping unreferenced blobs and layers: corrupt image record {used.File} is used by pods");
            CleanStaleTemporaries();
            return;
        }

        var blobs = new HashSet<string>(StringComparer.Ordinal);
        var layers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            blobs.Add(record.ManifestDigest.Hex);
            blobs.Add(record.ConfigDigest.Hex);
            if (record.IndexDigest is { } index)
            {
                blobs.Add(index.Hex);
            }

            foreach (var layer in record.Layers)
            {
                blobs.Add(layer.Blob.Hex);
                layers.Add(layer.DiffId.Hex);
            }
        }

        foreach (var blob in Directory.EnumerateFiles(BlobsDirectory))
        {
            if (!blobs.Contains(Path.GetFileName(blob)))
            {
                File.Delete(blob);
            }
        }

        if (Directory.Exists(VerifiedDirectory))
        {
            foreach (var marker in Directory.EnumerateFiles(VerifiedDirectory))
            {
                var name = Path.GetFileName(marker);
                var dash = name.IndexOf('-', StringComparison.Ordinal);
                if (dash < 0 || !blobs.Contains(name[..dash]))
                {
                    File.Delete(marker);
                }
            }
        }

        if (Directory.Exists(FileTablesDirectory))
        {
            foreach (var table in Directory.EnumerateFiles(FileTablesDirectory))
            {
                if (!layers.Contains(Path.GetFileName(table)))
                {
                    File.Delete(table);
                }
            }
        }

        foreach (var layer in Directory.EnumerateDirectories(LayersDirectory))
        {
            if (!layers.Contains(Path.GetFileName(layer)))
            {
                // Rename first so a half-deleted tree never stands under a layer's name.
                var doomed = Path.Combine(TempDirectory, "deleting-" + Path.GetFileName(layer) + "-" + Guid.NewGuid().ToString("N"));
                Directory.Move(layer, doomed);
                TryRemoveTree(doomed, "unpacked layer " + Path.GetFileName(layer));
            }
        }

        CleanStaleTemporaries();
    }

    /// <summary>Deletes scratch space left by processes that died (a kill -9 mid-fetch).</summary>
    public void CleanStaleTemporaries()
    {
        if (!Directory.Exists(TempDirectory))
        {
            return;
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(TempDirectory))
        {
            var name = Path.GetFileName(entry);
            if (name.EndsWith(".lock", StringComparison.Ordinal))
            {
                TempArea.DeleteIfAbandoned(entry, Warn);
            }
            else if (name.StartsWith("deleting-", StringComparison.Ordinal))
            {
                TryRemoveTree(entry, "a layer being removed");
            }
        }
    }

    /// <summary>
    /// Removes a tree by descriptor (<see cref="TreeRemover"/>: any depth, never through a symlink or a mount).
    /// A failure is reported and left for the next cleanup: it must not fail the command that got here.
    /// </summary>
    private void TryRemoveTree(string path, string what)
    {
        try
        {
            TreeRemover.Remove(path);
        }
        catch (IOException e)
        {
            Warn($"could not remove {what} at {path}: {e.Message} (left for the next image gc)");
        }
    }

    private string RecordPath(Digest manifestDigest) => Path.Combine(RecordsDirectory, manifestDigest.Hex + ".json");

    /// <summary>The record in <paramref name="path"/>; null when the file is gone, or when it is corrupt (<paramref name="problem"/> says how).</summary>
    private static ImageRecord? ReadRecord(string path, out string? problem)
    {
        problem = null;
        try
        {
            using var file = File.OpenHandle(path);
            var bytes = new byte[RandomAccess.GetLength(file)];
            var read = RandomAccess.Read(file, bytes, 0);
            var record = ImageRecordJson.Parse(bytes.AsSpan(0, read));
            var touched = new DateTimeOffset(File.GetLastWriteTimeUtc(file), TimeSpan.Zero);
            return touched > record.LastUsed ? record with { LastUsed = touched } : record;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is JsonException or KubeflyException or FormatException or OverflowException or ArgumentException or InvalidOperationException)
        {
            problem = JsonText.Describe(e);
            return null;
        }
        catch (IOException e)
        {
            problem = RuntimeText.Describe(e);
            return null;
        }
    }

    private static string? IdPrefix(string text)
    {
        var hex = text.StartsWith("sha256:", StringComparison.Ordinal) || text.StartsWith("sha256-", StringComparison.Ordinal) ? text[7..] : text;
        return hex.Length is >= 4 and <= 64 && hex.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')) ? hex : null;
    }
}

/// <summary>A record file that does not read as a record (<see cref="ManifestDigest"/> is what its name says, when it says one).</summary>
public sealed record CorruptImageRecord(string File, Digest? ManifestDigest, string Problem);
