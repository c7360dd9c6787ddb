/// <summary>
/// Watches one input at a time: its peak resident memory (Linux VmHWM, reset before each input) and its time.
/// An input over time cannot be interrupted inside a native call, so the watchdog ends the process; the driver
/// then keeps the input left in the work folder.
/// </summary>
internal sealed class Limits
{
    private readonly long _maxResidentBytes;
    private readonly TimeSpan _maxTime;
    private readonly object _lock = new();
    private string? _current;
    private DateTime _started;

    public Limits(long maxResidentBytes, TimeSpan maxTime)
    {
        _maxResidentBytes = maxResidentBytes;
        _maxTime = maxTime;
        var watchdog = new Thread(Watch) { IsBackground = true, Name = "fuzz watchdog" };
        watchdog.Start();
    }

    /// <summary>The largest peak seen over all inputs.</summary>
    public long PeakResidentBytes { get; private set; }

    public void Begin(string input)
    {
        // Writing 5 to clear_refs resets the peak, so each input is measured on its own.
        File.WriteAllText("/proc/self/clear_refs", "5");
        lock (_lock)
        {
            _current = input;
            _started = DateTime.UtcNow;
        }
    }

    /// <summary>Ends the input; returns a problem if it went over the memory limit.</summary>
    public string? End()
    {
        lock (_lock)
            _current = null;
        long peak = ReadPeakResidentBytes();
        PeakResidentBytes = Math.Max(PeakResidentBytes, peak);
        return peak > _maxResidentBytes ? $"peak resident memory {peak >> 20} MiB exceeds the {_maxResidentBytes >> 20} MiB limit" : null;
    }

    private void Watch()
    {
        while (true)
        {
            Thread.Sleep(200);
            lock (_lock)
            {
                if (_current is not null && DateTime.UtcNow - _started > _maxTime)
                {
                    Console.WriteLine($"FAIL {_current}: still running after {_maxTime.TotalSeconds:F0} s");
                    Console.Out.Flush();
                    Environment.Exit(3);
                }
            }
        }
    }

    private static long ReadPeakResidentBytes()
    {
        // "VmHWM:    209196 kB"
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
