using System.Collections.Concurrent;
using EfficientViT.ML.Featurization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.Featurization;

/// <summary>
/// How the batched cursor schedules reading and scoring: in turns when reading is quick next to scoring,
/// overlapped when it is slow, with every row's features right either way.
/// </summary>
public class BatchSchedulingTests
{
    private const int Side = 2;
    private const int Rows = 50;
    private const int BatchSize = 8;

    private sealed class PixelRow
    {
        [VectorType(3 * Side * Side)]
        public float[] Pixels { get; set; } = [];
    }

    // Each item's feature is the sum of its inputs; records whether each call ran alone.
    private sealed class SummingScorer(TimeSpan delay) : IFeatureScorer
    {
        public ConcurrentQueue<bool> Calls { get; } = new();

        public int InputSize => 3 * Side * Side;

        public int FeatureSize => 1;

        public void Run(float[] inputs, int count, float[] features, bool alone)
        {
            Calls.Enqueue(alone);
            Thread.Sleep(delay);
            for (var i = 0; i < count; i++)
                features[i] = inputs.AsSpan(i * InputSize, InputSize).ToArray().Sum();
        }

        public void Dispose()
        {
        }
    }

    private static IEnumerable<PixelRow> Source(TimeSpan delayPerRow)
    {
        for (var row = 0; row < Rows; row++)
        {
            Thread.Sleep(delayPerRow);
            yield return new PixelRow { Pixels = Enumerable.Repeat((float)row, 3 * Side * Side).ToArray() };
        }
    }

    private static (float[] Features, bool[] Alone) Score(TimeSpan readDelayPerRow, TimeSpan scoreDelay)
    {
        var mlContext = new MLContext();
        var data = mlContext.Data.LoadFromEnumerable(Source(readDelayPerRow));
        using var scorer = new SummingScorer(scoreDelay);
        var view = new BatchedFeaturesDataView(data, new PixelVectorInput("Pixels", "Pixels", Side), "Features",
            new VectorDataViewType(NumberDataViewType.Single, 1), scorer, BatchSize);
        var features = view.GetColumn<float[]>("Features").Select(f => f.Single()).ToArray();
        return (features, scorer.Calls.ToArray());
    }

    [Fact]
    public void Quick_reads_take_turns_with_scoring_that_runs_alone()
    {
        var (features, alone) = Score(readDelayPerRow: TimeSpan.Zero, scoreDelay: TimeSpan.FromMilliseconds(250));

        Assert.Equal(Enumerable.Range(0, Rows).Select(row => 12f * row), features);
        Assert.Equal((Rows + BatchSize - 1) / BatchSize, alone.Length);
        Assert.All(alone, Assert.True);
    }

    [Fact]
    public void Slow_reads_overlap_scoring_after_the_first_batch()
    {
        var (features, alone) = Score(readDelayPerRow: TimeSpan.FromMilliseconds(5), scoreDelay: TimeSpan.Zero);

        Assert.Equal(Enumerable.Range(0, Rows).Select(row => 12f * row), features);
        Assert.Equal((Rows + BatchSize - 1) / BatchSize, alone.Length);
        // The first batch has nothing to overlap with; every later one is scored while the next is read.
        Assert.True(alone[0]);
        Assert.All(alone.Skip(1), Assert.False);
    }
}
