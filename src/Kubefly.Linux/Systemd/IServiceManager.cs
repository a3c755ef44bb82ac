namespace Kubefly.Linux.Systemd;

/// <summary>A service as systemd reports it now.</summary>
/// <param name="ActiveState">active, activating, deactivating, failed, inactive, ...</param>
/// <param name="MainPid">0 when the service has no main process.</param>
/// <param name="Restarts">How many times systemd restarted it by its Restart= rule since it was last started by hand.</param>
public sealed record ServiceStatus(string ActiveState, string SubState, uint MainPid, uint Restarts);

/// <summary>
/// What an update needs from the service manager: restart a unit and learn its job's result, start one,
/// read its state and which units depend on it. systemd over D-Bus is the implementation
/// (<see cref="SystemdBus"/>); the update logic's unit tests drive a scripted one.
/// </summary>
public interface IServiceManager : IAsyncDisposable
{
    /// <summary>Restarts the unit and returns its job's result once systemd removes the job: done, failed, timeout, canceled, dependency, skipped.</summary>
    Task<string> RestartAsync(string unit, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Starts the unit and returns its job's result.</summary>
    Task<string> StartAsync(string unit, TimeSpan timeout, CancellationToken cancellationToken);

    Task<ServiceStatus> GetStatusAsync(string unit, CancellationToken cancellationToken);

    /// <summary>Units that a restart or failure of this one stops: Requires= (RequiredBy), BindsTo= (BoundBy) and PartOf= (ConsistsOf).</summary>
    Task<IReadOnlyList<string>> GetDependentsAsync(string unit, CancellationToken cancellationToken);
}

/// <summary>The service manager failed or could not be reached, in kubefly's words.</summary>
public sealed class ServiceManagerException(string message, Exception? inner = null) : Exception(message, inner);
