using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace EfficientViT.Service.LoadTest;

/// <summary>
/// The service run as a process of its own, as it is deployed: its resident memory is its own (not the load
/// test's), it can be started under an address-space limit (<c>prlimit --as</c>, what <c>ulimit -v</c> sets), and
/// it is stopped with SIGTERM, as <c>docker stop</c>, systemd and Kubernetes stop it. Linux only (/proc, prlimit).
/// </summary>
public sealed class ServiceProcess : IDisposable
{
    private const int SigTerm = 15;
    private readonly Process process;
    private readonly StringBuilder output = new();

    private ServiceProcess(Process process, string temporaryFolder)
    {
        this.process = process;
        TemporaryFolder = temporaryFolder;
    }

    /// <summary>The service's address, ending in '/'.</summary>
    public Uri Address { get; private set; } = new("http://127.0.0.1/");

    /// <summary>The folder the service was given as TMPDIR.</summary>
    public string TemporaryFolder { get; }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => process.HasExited;

    /// <summary>The service's exit code, once it has ended.</summary>
    public int ExitCode => process.ExitCode;

    /// <summary>What the service wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (output)
                return output.ToString();
        }
    }

    /// <summary>The resident memory now (VmRSS), in bytes.</summary>
    public long ResidentBytes => StatusBytes("VmRSS:");

    /// <summary>The largest resident memory so far (VmHWM), in bytes.</summary>
    public long PeakResidentBytes => StatusBytes("VmHWM:");

    /// <summary>The address space the process takes now (VmSize), reserved or used, in bytes.</summary>
    public long AddressSpaceBytes => StatusBytes("VmSize:");

    /// <summary>Limits the running service's address space to <paramref name="bytes"/>, as <c>prlimit --pid</c> does.</summary>
    public void LimitAddressSpace(long bytes)
    {
        var limit = new ResourceLimit { Current = (ulong)bytes, Maximum = (ulong)bytes };
        if (prlimit(process.Id, AddressSpaceResource, ref limit, IntPtr.Zero) != 0)
            throw new InvalidOperationException($"prlimit({process.Id}, RLIMIT_AS, {bytes}) failed (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>
    /// Starts <paramref name="serviceAssembly"/> with <paramref name="arguments"/> on a free loopback port, with
    /// <paramref name="temporaryFolder"/> as its TMPDIR, and waits until it listens.
    /// </summary>
    /// <param name="addressSpaceBytes">
    /// An address-space limit to run it under, or null. .NET reserves far more address space than it uses (its
    /// garbage collector's range, glibc's arena per thread), which counts against such a limit as if used: the
    /// service then gets a 1 GiB managed heap range and two malloc arenas. A container's memory limit, which counts
    /// resident memory only, needs neither.
    /// </param>
    /// <exception cref="InvalidOperationException">The service ended or did not listen within two minutes; the message has its output.</exception>
    public static async Task<ServiceProcess> StartAsync(string serviceAssembly, IEnumerable<string> arguments, string temporaryFolder, long? addressSpaceBytes = null)
    {
        var start = new ProcessStartInfo(addressSpaceBytes is null ? "dotnet" : "prlimit")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (addressSpaceBytes is { } limit)
        {
            // prlimit executes the command in its own process: the process id stays the service's.
            start.ArgumentList.Add(string.Create(CultureInfo.InvariantCulture, $"--as={limit}"));
            start.ArgumentList.Add("dotnet");
            start.Environment["DOTNET_GCRegionRange"] = "0x40000000";
            start.Environment["MALLOC_ARENA_MAX"] = "2";
        }
        start.ArgumentList.Add(serviceAssembly);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var argument in new[] { "--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information" })
            start.ArgumentList.Add(argument);
        start.Environment["TMPDIR"] = temporaryFolder;

        var service = new ServiceProcess(Process.Start(start)!, temporaryFolder);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Read(string? line)
        {
            if (line is null)
                return;
            lock (service.output)
                service.output.AppendLine(line);
            const string Marker = "Now listening on: ";
            var at = line.IndexOf(Marker, StringComparison.Ordinal);
            if (at >= 0)
                listening.TrySetResult(new Uri(line[(at + Marker.Length)..].Trim() + "/"));
        }
        service.process.OutputDataReceived += (_, e) => Read(e.Data);
        service.process.ErrorDataReceived += (_, e) => Read(e.Data);
        service.process.BeginOutputReadLine();
        service.process.BeginErrorReadLine();
        var exited = service.process.WaitForExitAsync();
        var first = await Task.WhenAny(listening.Task, exited, Task.Delay(TimeSpan.FromMinutes(2)));
        if (first != listening.Task)
        {
            service.Dispose();
            throw new InvalidOperationException($"the service did not start: {(first == exited ? $"it ended with exit code {service.process.ExitCode}" : "it did not listen within two minutes")}; its output:\n{service.Output}");
        }
        service.Address = await listening.Task;
        return service;
    }

    /// <summary>Sends SIGTERM and waits for the process to end; its exit code, or null when it did not end within <paramref name="timeout"/>.</summary>
    public async Task<int?> TerminateAsync(TimeSpan timeout)
    {
        if (!process.HasExited && kill(process.Id, SigTerm) != 0)
            throw new InvalidOperationException($"kill({process.Id}, SIGTERM) failed (errno {Marshal.GetLastPInvokeError()})");
        using var wait = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(wait.Token);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>
    /// What the service left in <paramref name="temporaryFolder"/>, its TMPDIR, but ONNX Runtime's <c>.ses</c>: the
    /// telemetry session file every process that loads ONNX Runtime writes there, one per folder, kept on purpose
    /// (<c>ORT_DISABLE_TELEMETRY=1</c> in the environment turns it off).
    /// </summary>
    public static string[] Leftovers(string temporaryFolder) =>
        Directory.EnumerateFileSystemEntries(temporaryFolder).Select(Path.GetFileName).Where(name => name != ".ses").ToArray()!;

    /// <summary>Ends the process if it still runs.</summary>
    public void Dispose()
    {
        if (!process.HasExited)
            process.Kill(entireProcessTree: true);
        process.Dispose();
    }

    private long StatusBytes(string field)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{process.Id}/status");
        }
        catch (IOException)
        {
            return 0;
        }
        // "VmRSS:	  238244 kB"
        var line = lines.FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    // RLIMIT_AS on Linux.
    private const int AddressSpaceResource = 9;

    private struct ResourceLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int prlimit(int pid, int resource, ref ResourceLimit newLimit, IntPtr oldLimit);
}
