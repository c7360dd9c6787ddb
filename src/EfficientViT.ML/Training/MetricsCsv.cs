using System.Globalization;
using System.Text;

namespace EfficientViT.ML.Training;

/// <summary>The <c>metrics.csv</c> table of a run: one row per finished epoch, numbers round-tripping exactly.</summary>
internal static class MetricsCsv
{
    private const string Header = "epoch,train_loss,validation_loss,validation_top1,validation_top5,learning_rate,images_per_second,seconds";

    public static string Format(IReadOnlyList<EpochSummary> epochs)
    {
        var text = new StringBuilder(Header).Append('\n');
        foreach (var s in epochs)
            text.AppendLine(string.Join(",", new[] { s.Epoch + 1.0, s.TrainLoss, s.ValidationLoss, s.ValidationTop1, s.ValidationTop5, s.LearningRate, s.ImagesPerSecond, s.Seconds }
                .Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        return text.ToString();
    }

    /// <summary>The rows of the file at <paramref name="path"/>, or null when there is no such file.</summary>
    public static List<EpochSummary>? Read(string path)
    {
        if (!File.Exists(path))
            return null;
        return File.ReadAllLines(path).Skip(1).Where(l => l.Length > 0).Select(line =>
        {
            var v = line.Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            if (v.Length != 8)
                throw new InvalidDataException($"{path}: a row has {v.Length} values; expected 8 ({Header}).");
            return new EpochSummary((int)v[0] - 1, v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
        }).ToList();
    }
}
