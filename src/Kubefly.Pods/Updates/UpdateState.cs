using System.Text.Json;
using System.Text.Json.Serialization;
using Kubefly.Images.Store;
using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Pods.Updates;

/// <summary>Where an update of one unit stands, written before each step so a killed updater's successor can finish or revert it.</summary>
public enum UpdatePhase
{
    /// <summary>The tag is about to be moved, or was moved, to the new digest; the unit was not restarted yet.</summary>
    Switching,

    /// <summary>The unit is being restarted on the new digest and checked by the health gate.</summary>
    Restarting,

    /// <summary>The new digest failed: the tag is moved back and the unit restarted on the old digest.</summary>
    RollingBack,
}

/// <summary>An update of one unit that has started and not finished.</summary>
public sealed record UpdateJournal
{
    public required UpdatePhase Phase { get; init; }

    /// <summary>The store name the unit's image goes by (the tag that is moved).</summary>
    public required string Name { get; init; }

    public required string From { get; init; }

    public required string To { get; init; }

    /// <summary>Units depending on this one that were active before the restart: started again at the end.</summary>
    public IReadOnlyList<string> Dependents { get; init; } = [];

    /// <summary>Why the new digest failed (rolling back only).</summary>
    public string? Reason { get; init; }
}

/// <summary>A digest that failed its health gate: not tried again until the tag names another.</summary>
public sealed record FailedDigest(string Digest, string Reason, DateTimeOffset At);

/// <summary>What auto-update remembers about one unit.</summary>
public sealed record UnitUpdateState
{
    public UpdateJournal? Journal { get; init; }

    public FailedDigest? Failed { get; init; }

    public DateTimeOffset? LastSuccess { get; init; }

    public long Failures { get; init; }

    public long Rollbacks { get; init; }
}

/// <summary>auto-update/state.json: per unit, the update in flight, the digest that failed, and the counters the metrics report.</summary>
public sealed record UpdateStateFile
{
    public Dictionary<string, UnitUpdateState> Units { get; init; } = new(StringComparer.Ordinal);

    public long PullBytes { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(UpdateStateFile))]
internal sealed partial class UpdateJsonContext : JsonSerializerContext;

/// <summary>
/// The updater's own state under DIR/auto-update/ (0700), and the lock that keeps two updaters (the
/// timer's and an operator's) from restarting the same units at once. state.json is replaced atomically
/// (temporary file, fsync, rename) before every step of an update.
/// </summary>
public sealed class UpdateStateStore : IDisposable
{
    private const long MaxStateBytes = 1 << 20;
    private readonly string _directory;
    private readonly FileLock _lock;

    private UpdateStateStore(string directory, FileLock held)
    {
        _directory = directory;
        _lock = held;
    }

    private string StatePath => Path.Combine(_directory, "state.json");

    /// <summary>Takes the updater's lock (fails at once when another updater holds it) and reads the state.</summary>
    public static UpdateStateStore Open(string stateDirectory)
    {
        var directory = Path.Combine(Path.GetFullPath(stateDirectory), "auto-update");
        StateDirectory.Ensure(Path.GetFullPath(stateDirectory), StateDirectory.Mode0755);
        StateDirectory.Ensure(directory, StateDirectory.Mode0700);
        var held = FileLock.TryAcquire(Path.Combine(directory, "lock"))
            ?? throw new KubeflyException($"another `kubefly auto-update` is running (it holds {Path.Combine(directory, "lock")}); wait for it to finish");
        var store = new UpdateStateStore(directory, held);
        try
        {
            store.State = store.Read();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    public UpdateStateFile State { get; private set; } = new();

    public UnitUpdateState Unit(string unit) => State.Units.TryGetValue(unit, out var state) ? state : new UnitUpdateState();

    /// <summary>Changes one unit's state and writes the file before returning.</summary>
    public void Update(string unit, Func<UnitUpdateState, UnitUpdateState> change)
    {
        var units = new Dictionary<string, UnitUpdateState>(State.Units, StringComparer.Ordinal) { [unit] = change(Unit(unit)) };
        Save(State with { Units = units });
    }

    public void AddPullBytes(long bytes) => Save(State with { PullBytes = State.PullBytes + bytes });

    public void Dispose() => _lock.Dispose();

    private void Save(UpdateStateFile state)
    {
        var temporary = StatePath + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, state, UpdateJsonContext.Default.UpdateStateFile);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, StatePath, overwrite: true);
        Interop.FsyncDirectory(_directory);
        State = state;
    }

    private UpdateStateFile Read()
    {
        if (!File.Exists(StatePath))
        {
            return new UpdateStateFile();
        }

        var length = new FileInfo(StatePath).Length;
        if (length > MaxStateBytes)
        {
            throw new KubeflyException($"auto-update state {StatePath} is {length} bytes (limit {MaxStateBytes}); move it away to start over");
        }

        try
        {
            var state = JsonSerializer.Deserialize(File.ReadAllBytes(StatePath), UpdateJsonContext.Default.UpdateStateFile)
                ?? throw new JsonException("the file holds null");
            return state with { Units = new Dictionary<string, UnitUpdateState>(state.Units, StringComparer.Ordinal) };
        }
        catch (JsonException e)
        {
            throw new KubeflyException($"auto-update state {StatePath} is corrupt ({UntrustedText.Printable(e.Message)}); move it away to start over (units keep running; an update in flight is then not finished)");
        }
    }
}
