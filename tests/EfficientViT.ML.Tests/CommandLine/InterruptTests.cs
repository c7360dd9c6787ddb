using System.Diagnostics;
using System.Runtime.InteropServices;
using EfficientViT.ML.Tests.Data;
using EfficientViT.ML.Training;

namespace EfficientViT.ML.Tests.CommandLine;

/// <summary>
/// The command line stopped as services stop it (SIGTERM: docker stop, systemd, Kubernetes) and shared by two runs:
/// a training run saves like Ctrl+C and exits 143; a second run into its folder is refused naming the first's
/// process; an export stopped half-way leaves no temporary file.
/// </summary>
public class InterruptTests
{
    private const int SigTerm = 15;

    [Fact]
    public async Task Sigterm_saves_the_run_like_ctrl_c_and_exits_143_and_a_second_run_into_its_folder_is_refused()
    {
        using var dir = new TempDirectory();
        var data = Path.Combine(dir.Path, "data");
        for (var i = 0; i < 8; i++)
            DataTestImages.WriteSolidPng(Path.Combine(data, i % 2 == 0 ? "dark" : "light", $"{i}.png"), 32, 32, (byte)(i % 2 * 200), 50, 50);
        var output = Path.Combine(dir.Path, "run");
        string[] train = ["train", "--data", data, "--validation-split", "0", "--image-size", "32", "--epochs", "10000", "--batch-size", "4", "--threads", "1", "--workers", "1", "-o", output];

        var said = new System.Text.StringBuilder();
        using var first = Start(train, said);
        var run = new TrainingRunFolder(output);
        // Running, holding the folder, with an epoch saved.
        var clock = Stopwatch.StartNew();
        while (!(run.HasCheckpoint && File.Exists(Path.Combine(output, ".lock.owner"))) && !first.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2))
            await Task.Delay(100);
        Assert.False(first.HasExited, $"the first run ended: {said}");
        Assert.True(run.HasCheckpoint, "the first run saved no epoch within two minutes");

        var (exitCode, errors, _) = EfficientVitProcess.Run(train);
        Assert.Equal(1, exitCode);
        Assert.Equal($"error: run folder {output} in use by process {first.Id}: two processes cannot write into one run folder.", Assert.Single(errors));

        Assert.Equal(0, kill(first.Id, SigTerm));
        Assert.True(first.WaitForExit(TimeSpan.FromMinutes(2)), "the first run did not stop on SIGTERM");
        first.WaitForExit();
        Assert.Equal(128 + SigTerm, first.ExitCode);
        Assert.Contains("stopping on SIGTERM: saving a checkpoint...", said.ToString());
        Assert.Contains($"the run was saved in {run.LastPath}", said.ToString());
        Assert.True(run.HasCheckpoint);
        Assert.False(Directory.Exists(run.LastPath + ".writing"), "a partial checkpoint was left");
        // Free again for the next run.
        run.ThrowIfInUse();
    }

    [Fact]
    public async Task An_export_stopped_by_a_signal_leaves_no_temporary_file()
    {
        using var dir = new TempDirectory();
        var onnx = Path.Combine(dir.Path, "m0.onnx");
        // Signals at several points of the export: loading, building the graph, writing it.
        foreach (var delay in new[] { 1500, 3000, 4500 })
        {
            using var export = Start(["export", TestFiles.OfficialM0("efficientvit_m0.pth"), "-o", onnx], new System.Text.StringBuilder());
            await Task.Delay(delay);
            kill(export.Id, SigTerm);
            Assert.True(export.WaitForExit(TimeSpan.FromMinutes(2)), "the export did not end");
            Assert.Empty(Directory.GetFiles(dir.Path, ".m0.onnx.*"));
            Assert.True(!File.Exists(onnx) || new FileInfo(onnx).Length > 1_000_000, "a partial ONNX file was left");
        }
    }

    // Started with its output read as it comes (a full pipe would block it), stdout and stderr into said.
    private static Process Start(string[] arguments, System.Text.StringBuilder said)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(ChildProgram.Built("src/Training", "efficientvit"));
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        void Append(string? line)
        {
            if (line is null)
                return;
            lock (said)
                said.AppendLine(line);
        }
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
