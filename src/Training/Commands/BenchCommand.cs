using System.CommandLine;
using System.Diagnostics;
using EfficientViT.ML;
using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Training;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace EfficientViT.Training.Commands;

/// <summary>
/// <c>efficientvit bench</c>: inference and training speed on this machine, with the machine named, since
/// speeds only compare on one machine, and the process's peak resident memory during each measurement. Random
/// weights and inputs: the amount of work does not depend on them.
/// </summary>
internal static class BenchCommand
{
    private const int InferenceSize = 224, TrainingBatch = 128;

    public static Command Create()
    {
        var variant = new Option<EfficientVitVariant>("--variant") { Description = "The model whose inference is measured (training is always M0, the demo's).", DefaultValueFactory = _ => EfficientVitVariant.M0 };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads for inference; default: every processor.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seconds = new Option<double>("--seconds") { Description = "Timed seconds per measurement.", DefaultValueFactory = _ => 3.0 };
        var trainingSize = new Option<int>("--training-size") { Description = "Image side of the training steps (a multiple of 16; the demo trains at 64, --long at 112).", DefaultValueFactory = _ => 64 };
        var noTraining = new Option<bool>("--no-training") { Description = "Measure inference only." };
        var command = new Command("bench", "Measure inference (TorchSharp, ONNX Runtime float32 and int8) and training speed, and peak memory, on this machine.") { variant, threads, seconds, trainingSize, noTraining };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var threadCount = parse.GetValue(threads);
            var duration = TimeSpan.FromSeconds(parse.GetValue(seconds));
            var side = parse.GetValue(trainingSize);
            if (threadCount < 1)
                throw new ArgumentException($"--threads must be at least 1; found {threadCount}.");
            if (duration <= TimeSpan.Zero)
                throw new ArgumentException("--seconds must be positive.");
            if (side < 16 || side % 16 != 0)
                throw new ArgumentException($"--training-size must be a positive multiple of 16; found {side}.");

            Console.WriteLine($"machine: {MachineDescription.Summary()}");
            Console.WriteLine($"software: .NET {Environment.Version}, TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(3)}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
            Console.WriteLine(PeakMemory.TryReset()
                ? "peak: the process's peak resident memory during each measurement (VmHWM, reset before it), the runtime, the loaded libraries and what earlier measurements left resident included"
                : "peak: n/a (it is read from Linux's /proc/self/status after a reset through /proc/self/clear_refs)");
            Inference(parse.GetValue(variant), threadCount, duration);
            if (!parse.GetValue(noTraining))
                Training(side, duration);
        }));
        return command;
    }

    private static void Inference(EfficientVitVariant variant, int threads, TimeSpan duration)
    {
        Console.WriteLine($"inference, EfficientViT-{variant} {InferenceSize}x{InferenceSize}, BatchNorm fused, {threads} thread(s), images/s and peak:");
        set_num_threads(threads);
        manual_seed(0);
        using var model = EfficientVit.Create(variant, InferenceSize);
        model.eval();
        model.FuseBatchNorm();
        using var sessionOptions = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        var exportOptions = new OnnxExportOptions { IncludeLogits = false };
        using var session = new InferenceSession(EfficientVitOnnxExporter.ToBytes(model, exportOptions), sessionOptions);
        // The int8 graph calibrated on a few random images: its speed does not depend on the ranges, and whether
        // the processor has int8 dot-product instructions (VNNI) decides most of what it gains.
        var calibration = Enumerable.Range(0, 4).Select(_ => { using var image = randn(3, InferenceSize, InferenceSize); return image.data<float>().ToArray(); }).ToArray();
        exportOptions.Int8 = new OnnxInt8Options { Calibration = Int8Calibrator.Calibrate(model, calibration, exportOptions) };
        using var int8Session = new InferenceSession(EfficientVitOnnxExporter.ToBytes(model, exportOptions), sessionOptions);
        foreach (var batch in new[] { 1, 16 })
        {
            using var input = randn(batch, 3, InferenceSize, InferenceSize);
            var (torchRate, torchPeak) = PeakMemory.During(() => Rate(batch, duration, () =>
            {
                using var noGrad = no_grad();
                using var scope = NewDisposeScope();
                model.forward(input);
            }));
            var pixels = input.data<float>().ToArray();
            using var value = OrtValue.CreateTensorValueFromMemory(pixels, [batch, 3, InferenceSize, InferenceSize]);
            using var runOptions = new RunOptions();
            (double Rate, long? PeakKib) OnnxRate(InferenceSession scoring) => PeakMemory.During(() => Rate(batch, duration, () =>
            {
                using var outputs = scoring.Run(runOptions, [EfficientVitOnnxExporter.DefaultInputName], [value], [EfficientVitOnnxExporter.DefaultFeaturesOutputName]);
            }));
            var (onnxRate, onnxPeak) = OnnxRate(session);
            var (int8Rate, int8Peak) = OnnxRate(int8Session);
            Console.WriteLine($"  batch {batch,2}: TorchSharp {torchRate,8:F1}, {Peak(torchPeak)}   ONNX Runtime {onnxRate,8:F1}, {Peak(onnxPeak)}   " +
                $"ONNX Runtime int8 {int8Rate,8:F1} ({int8Rate / onnxRate:F2}x), {Peak(int8Peak)}");
        }
    }

    // Training uses one and then every processor: a second thread does not always help a step of small operations.
    private static void Training(int side, TimeSpan duration)
    {
        Console.WriteLine($"training, EfficientViT-M0 {side}x{side}, batch {TrainingBatch}, AdamW step (no data loading), images/s and peak:");
        using var speed = new TrainingSpeed(EfficientVitVariant.M0, side, TrainingBatch);
        foreach (var threads in Environment.ProcessorCount > 1 ? new[] { 1, Environment.ProcessorCount } : [1])
        {
            set_num_threads(threads);
            var (times, peak) = PeakMemory.During(() => speed.Measure(duration));
            Console.WriteLine($"  {threads} thread(s): {times.ImagesPerSecond,8:F1}, {Peak(peak)}   ({times.MillisecondsPerStep:F0} ms/step: forward {times.Forward * 1000:F0}, " +
                $"backward {times.Backward * 1000:F0}, clipping {times.Clip * 1000:F0}, optimizer {times.Optimizer * 1000:F0})");
        }
    }

    private static string Peak(long? kib) => PeakMemory.Format(kib).PadLeft(8);

    // One untimed call, then calls until the duration has passed.
    private static double Rate(int batch, TimeSpan duration, Action call)
    {
        call();
        var calls = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration || calls == 0)
        {
            call();
            calls++;
        }
        return calls * batch / clock.Elapsed.TotalSeconds;
    }
}
