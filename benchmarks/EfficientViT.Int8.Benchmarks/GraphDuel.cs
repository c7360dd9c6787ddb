using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Two ONNX graphs of one model (float32 against int8, this project's export against PyTorch's) timed against each
/// other in one process: the same session options, the same random input, rounds A B A B …, so that a change of the
/// machine's load hits both alike. Prints each round's images/s, the median, smallest and largest ratio B ÷ A, and
/// the largest difference of the two first outputs (a check that both read the input alike).
/// </summary>
internal static class GraphDuel
{
    private const int Side = 224;
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(0.5);

    public static void Run(string graphA, string graphB, int[] batches, int threads, int rounds, TimeSpan perRound)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var a = new InferenceSession(graphA, options);
        using var b = new InferenceSession(graphB, options);
        Console.WriteLine($"A = {graphA}");
        Console.WriteLine($"B = {graphB}");
        Console.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()}, one session of {threads} intra-op thread(s) each, "
            + $"{Environment.ProcessorCount} processors, {rounds} rounds of {perRound.TotalSeconds:0.#} s per graph, started {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var random = new Random(3);
        foreach (var batch in batches)
        {
            var pixels = new float[batch * 3 * Side * Side];
            for (var i = 0; i < pixels.Length; i++)
                pixels[i] = (float)(random.NextDouble() * 4 - 2);
            using var input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, 3, Side, Side]);
            using var runOptions = new RunOptions();
            float[] Score(InferenceSession session)
            {
                using var outputs = session.Run(runOptions, [session.InputMetadata.Keys.First()], [input], [session.OutputMetadata.Keys.First()]);
                return outputs[0].GetTensorDataAsSpan<float>().ToArray();
            }
            double ImagesPerSecond(InferenceSession session)
            {
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed < WarmUp)
                    Score(session);
                var passes = 0;
                clock.Restart();
                while (clock.Elapsed < perRound)
                {
                    Score(session);
                    passes++;
                }
                return passes * batch / clock.Elapsed.TotalSeconds;
            }

            var outputA = Score(a);
            var outputB = Score(b);
            var difference = outputA.Length == outputB.Length ? outputA.Zip(outputB, (x, y) => Math.Abs(x - y)).Max() : float.NaN;
            var perRoundText = new List<string>();
            var ratios = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                double rateA = ImagesPerSecond(a), rateB = ImagesPerSecond(b);
                perRoundText.Add(string.Create(CultureInfo.InvariantCulture, $"{rateA:F1}/{rateB:F1}"));
                ratios.Add(rateB / rateA);
            }
            ratios.Sort();
            var median = rounds % 2 == 1 ? ratios[rounds / 2] : (ratios[rounds / 2 - 1] + ratios[rounds / 2]) / 2;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"batch {batch,3}: A/B img/s per round {string.Join("  ", perRoundText)}  => B/A median {median:F2}x (min {ratios[0]:F2}, max {ratios[^1]:F2}); "
                + $"first outputs: max |A-B| {difference:E2} over {outputA.Length} values"));
        }
    }
}
