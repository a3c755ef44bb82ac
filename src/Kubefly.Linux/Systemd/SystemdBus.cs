using System.Collections.Concurrent;
using Tmds.DBus.Protocol;

namespace Kubefly.Linux.Systemd;

/// <summary>
/// systemd's manager over the system bus (org.freedesktop.systemd1). A restart's outcome is the result
/// its job is removed with (the JobRemoved signal), not the unit's ActiveState afterwards: under
/// Restart=always a unit that crashes at start is "activating" again before anyone could read "failed",
/// and a Type=notify unit that never sends READY=1 ends as job result "timeout".
/// </summary>
public sealed class SystemdBus : IServiceManager
{
    private const string Destination = "org.freedesktop.systemd1";
    private const string ManagerPath = "/org/freedesktop/systemd1";
    private const string ManagerInterface = "org.freedesktop.systemd1.Manager";
    private const string UnitInterface = "org.freedesktop.systemd1.Unit";
    private const string ServiceInterface = "org.freedesktop.systemd1.Service";
    private const string PropertiesInterface = "org.freedesktop.DBus.Properties";

    private readonly DBusConnection _connection;
    private readonly string _address;

    // Jobs removed, by job path: a JobRemoved signal can arrive before the reply naming its job is read.
    private readonly ConcurrentDictionary<string, TaskCompletionSource<string>> _jobs = new(StringComparer.Ordinal);
    private IDisposable? _jobWatch;

    private SystemdBus(DBusConnection connection, string address)
    {
        _connection = connection;
        _address = address;
    }

    /// <summary>Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket) and subscribes to job signals.</summary>
    public static async Task<SystemdBus> ConnectAsync(CancellationToken cancellationToken)
    {
        var address = DBusAddress.System ?? "unix:path=/run/dbus/system_bus_socket";
        var connection = new DBusConnection(address);
        var bus = new SystemdBus(connection, address);
        try
        {
            await connection.ConnectAsync().ConfigureAwait(false);
            bus._jobWatch = await connection.AddMatchAsync(
                new MatchRule { Type = MessageType.Signal, Interface = ManagerInterface, Member = "JobRemoved", Path = ManagerPath },
                static (message, _) =>
                {
                    var reader = message.GetBodyReader();
                    reader.ReadUInt32();
                    var job = reader.ReadObjectPathAsString();
                    reader.ReadString();
                    return (Job: job, Result: reader.ReadString());
                },
                (Notification<(string Job, string Result)> removed) =>
                {
                    if (removed.HasValue)
                    {
                        bus.JobCompletion(removed.Value.Job).TrySetResult(removed.Value.Result);
                    }
                },
                // With ObserverFlags.None, Tmds.DBus.Protocol 0.95.2 delivered no JobRemoved to this handler
                // (seen under the nspawn systemd of the tests): the restart then waited for ever.
                emitOnCapturedContext: false,
                flags: ObserverFlags.EmitAll).ConfigureAwait(false);
            await bus.CallAsync(ManagerPath, ManagerInterface, "Subscribe", cancellationToken).ConfigureAwait(false);
            return bus;
        }
        catch (Exception e) when (e is DBusExceptionBase or IOException or System.Net.Sockets.SocketException)
        {
            await bus.DisposeAsync().ConfigureAwait(false);
            throw new ServiceManagerException($"cannot reach systemd on the system bus ({address}): {e.Message} (auto-update restarts units through systemd's D-Bus API: is dbus running?)", e);
        }
    }

    public Task<string> RestartAsync(string unit, TimeSpan timeout, CancellationToken cancellationToken) => RunJobAsync("RestartUnit", unit, timeout, cancellationToken);

    public Task<string> StartAsync(string unit, TimeSpan timeout, CancellationToken cancellationToken) => RunJobAsync("StartUnit", unit, timeout, cancellationToken);

    public async Task<ServiceStatus> GetStatusAsync(string unit, CancellationToken cancellationToken)
    {
        var path = await UnitPathAsync(unit, cancellationToken).ConfigureAwait(false);
        return new ServiceStatus(
            (await GetPropertyAsync(path, UnitInterface, "ActiveState", cancellationToken).ConfigureAwait(false)).GetString(),
            (await GetPropertyAsync(path, UnitInterface, "SubState", cancellationToken).ConfigureAwait(false)).GetString(),
            (await GetPropertyAsync(path, ServiceInterface, "MainPID", cancellationToken).ConfigureAwait(false)).GetUInt32(),
            (await GetPropertyAsync(path, ServiceInterface, "NRestarts", cancellationToken).ConfigureAwait(false)).GetUInt32());
    }

    public async Task<IReadOnlyList<string>> GetDependentsAsync(string unit, CancellationToken cancellationToken)
    {
        var path = await UnitPathAsync(unit, cancellationToken).ConfigureAwait(false);
        var dependents = new List<string>();
        foreach (var property in (string[])["RequiredBy", "BoundBy", "ConsistsOf"])
        {
            dependents.AddRange((await GetPropertyAsync(path, UnitInterface, property, cancellationToken).ConfigureAwait(false)).GetArray<string>());
        }

        return dependents.Distinct(StringComparer.Ordinal).ToList();
    }

    public ValueTask DisposeAsync()
    {
        _jobWatch?.Dispose();
        _connection.Dispose();
        return ValueTask.CompletedTask;
    }

    private TaskCompletionSource<string> JobCompletion(string job) =>
        _jobs.GetOrAdd(job, static _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));

    private async Task<string> RunJobAsync(string method, string unit, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var job = await CallAsync(ManagerPath, ManagerInterface, method, "ss", (ref MessageWriter writer) =>
        {
            writer.WriteString(unit);
            writer.WriteString("replace");
        }, static (message, _) => message.GetBodyReader().ReadObjectPathAsString(), unit, cancellationToken).ConfigureAwait(false);
        var completion = JobCompletion(job);
        try
        {
            return await completion.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new ServiceManagerException($"unit {unit}: systemd's {method} job {job} did not finish within {timeout.TotalSeconds:0}s");
        }
        finally
        {
            _jobs.TryRemove(job, out _);
        }
    }

    private Task<string> UnitPathAsync(string unit, CancellationToken cancellationToken) =>
        CallAsync(ManagerPath, ManagerInterface, "LoadUnit", "s", (ref MessageWriter writer) => writer.WriteString(unit), static (message, _) => message.GetBodyReader().ReadObjectPathAsString(), unit, cancellationToken);

    private Task<VariantValue> GetPropertyAsync(string path, string @interface, string property, CancellationToken cancellationToken) =>
        CallAsync(path, PropertiesInterface, "Get", "ss", (ref MessageWriter writer) =>
        {
            writer.WriteString(@interface);
            writer.WriteString(property);
        }, static (message, _) => message.GetBodyReader().ReadVariantValue(), $"{path} {property}", cancellationToken);

    /// <summary>Writes a call's arguments; by reference, because MessageWriter is a struct and a copy's writes are lost.</summary>
    private delegate void BodyWriter(ref MessageWriter writer);

    private Task CallAsync(string path, string @interface, string method, CancellationToken cancellationToken)
    {
        using var writer = _connection.GetMessageWriter();
        writer.WriteMethodCallHeader(Destination, path, @interface, method);
        return _connection.CallMethodAsync(writer.CreateMessage()).WaitAsync(cancellationToken);
    }

    private async Task<T> CallAsync<T>(string path, string @interface, string method, string signature, BodyWriter body, MessageValueReader<T> read, string what, CancellationToken cancellationToken)
    {
        MessageBuffer Create()
        {
            var writer = _connection.GetMessageWriter();
            try
            {
                writer.WriteMethodCallHeader(Destination, path, @interface, method, signature);
                body(ref writer);
                return writer.CreateMessage();
            }
            finally
            {
                writer.Dispose();
            }
        }

        try
        {
            return await _connection.CallMethodAsync(Create(), read, null).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DBusErrorReplyException e)
        {
            throw new ServiceManagerException($"systemd refused {method} ({what}): {e.ErrorName}: {e.ErrorMessage}", e);
        }
        catch (DBusExceptionBase e)
        {
            throw new ServiceManagerException($"systemd's bus ({_address}) failed during {method} ({what}): {e.Message}", e);
        }
    }
}
