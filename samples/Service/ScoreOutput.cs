using Microsoft.ML.Data;

namespace EfficientViT.Service;

/// <summary>The model's output the service reads: one score per class.</summary>
public sealed class ScoreOutput
{
    /// <summary>The column a multiclass trainer writes.</summary>
    public const string ColumnName = "Score";

    /// <summary>The class scores (probabilities for ML.NET's maximum-entropy and other calibrated multiclass trainers).</summary>
    [ColumnName(ColumnName)]
    public float[] Score { get; set; } = [];
}
