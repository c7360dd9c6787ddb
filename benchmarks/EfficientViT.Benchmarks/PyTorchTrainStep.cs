using System.Diagnostics;
using System.Globalization;
using EfficientViT.ML.Modeling;

namespace EfficientViT.Benchmarks;

/// <summary>
/// The PyTorch side of the training benchmarks: <c>benchmarks/pytorch/train_step.py</c> (the official model's training
/// step, PyTorch 2.6) in the Debian root <c>benchmarks/pytorch/setup-root.sh</c> makes, through
/// <c>benchmarks/pytorch/run.sh</c> in a child process (as root: it uses chroot), and its images/s per thread count
/// read from its output.
/// </summary>
internal static class PyTorchTrainStep
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>
    /// The repository holding this benchmark: the current folder when run from it, else the nearest parent of the
    /// benchmark's assembly that holds benchmarks/pytorch.
    /// </summary>
    public static string Repository { get; } = FindRepository();

    /// <summary>Why PyTorch cannot run here with the root <paramref name="root"/>, or null when it can.</summary>
    public static string? Unavailable(string root)
    {
        if (!OperatingSystem.IsLinux())
            return "needs Linux";
        if (!File.Exists(Path.Combine(root, "usr", "bin", "python3")))
            return $"no PyTorch root at {root} (make one with benchmarks/pytorch/setup-root.sh)";
        if (Environment.UserName != "root")
            return "needs root (benchmarks/pytorch/run.sh uses chroot)";
        return File.Exists(RunScript) ? null : $"no benchmarks/pytorch/run.sh under {Repository}";
    }

    /// <summary>
    /// The child: <paramref name="warmupSteps"/> untimed steps, then <paramref name="timedSteps"/> timed ones, or steps
    /// for <paramref name="timedSeconds"/> when <paramref name="timedSteps"/> is 0, at each of <paramref name="threads"/> in turn.
    /// </summary>
    public static ProcessStartInfo Start(string root, EfficientVitVariant variant, int batch, int size, IEnumerable<int> threads,
        int warmupSteps, int timedSteps = 0, double timedSeconds = 0)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = Repository };
        foreach (var argument in new[]
                 {
                     RunScript, "--root", root, "python3", "benchmarks/pytorch/train_step.py",
                     "--variant", variant.ToString(), "--batch", batch.ToString(Invariant), "--size", size.ToString(Invariant),
                     "--threads", string.Join(',', threads.Select(t => t.ToString(Invariant))), "--warmup", "0",
                     "--warmup-steps", warmupSteps.ToString(Invariant), "--steps", timedSteps.ToString(Invariant), "--time", timedSeconds.ToString(Invariant),
                 })
            start.ArgumentList.Add(argument);
        return start;
    }

    /// <summary>Images/s by thread count, from the child's lines "threads 2: 123.4 img/s (3 steps)".</summary>
    public static IReadOnlyDictionary<int, double> Rates(IEnumerable<string> lines)
    {
        var rates = new Dictionary<int, double>();
        foreach (var line in lines)
        {
            if (line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["threads", var threads, var rate, "img/s", ..]
                && int.TryParse(threads.TrimEnd(':'), NumberStyles.None, Invariant, out var count))
                rates[count] = double.Parse(rate, Invariant);
        }
        return rates;
    }

    private static string RunScript => Path.Combine(Repository, "benchmarks", "pytorch", "run.sh");

    private static string FindRepository()
    {
        static bool Holds(string folder) => Directory.Exists(Path.Combine(folder, "benchmarks", "pytorch"));
        if (Holds(Environment.CurrentDirectory))
            return Environment.CurrentDirectory;
        for (var folder = Path.GetDirectoryName(typeof(PyTorchTrainStep).Assembly.Location); folder is not null; folder = Path.GetDirectoryName(folder))
        {
            if (Holds(folder))
                return folder;
        }
        return Environment.CurrentDirectory;
    }
}
