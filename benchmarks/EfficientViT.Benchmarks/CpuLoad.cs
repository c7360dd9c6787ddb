using System.Diagnostics;

namespace EfficientViT.Benchmarks;

/// <summary>
/// A competing CPU-bound process: this program started again with <c>--spin N</c>, which keeps N threads busy
/// with arithmetic until it is killed or its parent's end closes its standard input. It stands for what shares a
/// machine with a training run: a build, a browser, another job on a CI runner.
/// </summary>
internal sealed class CpuLoad : IDisposable
{
    private readonly Process process;

    private CpuLoad(Process process) => this.process = process;

    /// <summary>Starts a child process spinning <paramref name="threads"/> threads; disposing kills it.</summary>
    public static CpuLoad Start(int threads)
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this process is unknown: cannot start the load generator.");
        var start = new ProcessStartInfo(host) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        // Under `dotnet program.dll` the host is dotnet and the program its first argument; an apphost is the program.
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            start.ArgumentList.Add(typeof(CpuLoad).Assembly.Location);
        start.ArgumentList.Add("--spin");
        start.ArgumentList.Add(threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {host} as the load generator.");
        // The child's runtime takes longer to start than a few steps: wait until its threads spin, so that the
        // first measured steps already share the machine.
        if (process.StandardOutput.ReadLine() != SpinningLine)
            throw new InvalidOperationException($"The load generator ({host}) ended before its threads started.");
        return new CpuLoad(process);
    }

    private const string SpinningLine = "spinning";

    /// <summary>The child's side: spins <paramref name="threads"/> threads until standard input closes.</summary>
    public static int Spin(int threads)
    {
        for (var i = 0; i < threads; i++)
            new Thread(Busy) { IsBackground = true, Name = $"spin {i}" }.Start();
        Console.Out.WriteLine(SpinningLine);
        Console.Out.Flush();
        // Ends when the parent closes the pipe or dies; Ctrl+C and kill end it too.
        while (Console.In.Read() >= 0)
        {
        }
        return 0;
    }

    private static void Busy()
    {
        var x = 1.0;
        while (true)
        {
            x = x * 1.000000001 + 1e-9;
            if (x > 1e300)
                x = 1.0;
        }
    }

    public void Dispose()
    {
        if (!process.HasExited)
            process.Kill(entireProcessTree: true);
        process.WaitForExit();
        process.Dispose();
    }
}
