using System.Diagnostics;

/// <summary>
/// Watches one input at a time: its peak resident memory (Linux VmHWM, reset before each input) and its time.
/// An input over time cannot be interrupted inside a native call, so the watchdog ends the process; the driver
/// then keeps the input left in the work folder.
/// </summary>
/// <remarks>
/// The time limit is on the processor time the input takes, which other processes on the machine do not change
/// (under a load average of 20 an input of one second's work once took more than 20 s of wall time); an input
/// that waits rather than computes is caught by a wall-time limit of <see cref="WallTimeFactor"/> times as much.
/// </remarks>
internal sealed class Limits
{
    private readonly long maxResidentBytes;
    private readonly TimeSpan maxTime;
    private readonly object gate = new();
    private const int WallTimeFactor = 10;
    private readonly Process process = Process.GetCurrentProcess();
    private string? current;
    private DateTime started;
    private TimeSpan startedProcessorTime;

    public Limits(long maxResidentBytes, TimeSpan maxTime)
    {
        this.maxResidentBytes = maxResidentBytes;
        this.maxTime = maxTime;
        var watchdog = new Thread(Watch) { IsBackground = true, Name = "fuzz watchdog" };
        watchdog.Start();
    }

    /// <summary>The largest peak seen over all inputs.</summary>
    public long PeakResidentBytes { get; private set; }

    public void Begin(string input)
    {
        // Writing 5 to clear_refs resets the peak, so each input is measured on its own.
        File.WriteAllText("/proc/self/clear_refs", "5");
        lock (gate)
        {
            current = input;
            started = DateTime.UtcNow;
            startedProcessorTime = ProcessorTime();
        }
    }

    /// <summary>Ends the input; returns a problem if it went over the memory limit.</summary>
    public string? End()
    {
        lock (gate)
            current = null;
        long peak = ReadPeakResidentBytes();
        PeakResidentBytes = Math.Max(PeakResidentBytes, peak);
        return peak > maxResidentBytes ? $"peak resident memory {peak >> 20} MiB exceeds the {maxResidentBytes >> 20} MiB limit" : null;
    }

    private void Watch()
    {
        while (true)
        {
            Thread.Sleep(200);
            lock (gate)
            {
                if (current is null)
                    continue;
                var problem = ProcessorTime() - startedProcessorTime > maxTime ? $"still running after {maxTime.TotalSeconds:F0} s of processor time"
                    : DateTime.UtcNow - started > maxTime * WallTimeFactor ? $"still running after {(maxTime * WallTimeFactor).TotalSeconds:F0} s"
                    : null;
                if (problem is not null)
                {
                    Console.WriteLine($"FAIL {current}: {problem}");
                    Console.Out.Flush();
                    Environment.Exit(3);
                }
            }
        }
    }

    private TimeSpan ProcessorTime()
    {
        process.Refresh();
        return process.TotalProcessorTime;
    }

    private static long ReadPeakResidentBytes()
    {
        // "VmHWM:    209196 kB"
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
