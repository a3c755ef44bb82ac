// Pods are directories with Unix modes and flocks: this assembly only ever runs on Linux.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
