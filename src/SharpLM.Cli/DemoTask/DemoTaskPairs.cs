using System.Text.Json;
using SharpLM.Chat;
using SharpLM.Data;
using SharpLM.Evaluation;
using SharpLM.Generation;
using SharpLM.Hub;

namespace SharpLM.Cli.DemoTask;

/// <summary>
/// Preference pairs from the demo task for DPO after supervised fine-tuning: for each question, chosen = the
/// dictionary's answer, rejected = the fine-tuned model's own greedy answer where it is wrong, or where it is right (or
/// empty) the dictionary's answer to another question of the same kind (the text before its first quote: "How is",
/// "What does"), a plausible but wrong answer.
/// </summary>
sealed class DemoTaskPairs(PretrainedModel model, ChatTemplate template, int maxNewTokens = 48)
{
    /// <summary>One pair; <paramref name="FromModel"/> says whether the rejected answer is the model's own.</summary>
    public sealed record Pair(string Prompt, string Chosen, string Rejected, bool FromModel);

    /// <summary>Pairs for the single-turn conversations of <paramref name="records"/>; <paramref name="progress"/> gets
    /// (done, total).</summary>
    public List<Pair> Build(IReadOnlyList<Conversation> records, Action<int, int>? progress = null)
    {
        var single = records.Where(c => c.Messages is [{ Role: ChatMessage.UserRole }, { Role: ChatMessage.AssistantRole }]).ToList();
        var generator = new TokenGenerator(model.Model);
        var stops = model.StopTokens(template);
        var pairs = new List<Pair>();
        for (int i = 0; i < single.Count; i++)
        {
            string question = single[i].Messages[0].Content, expected = single[i].Messages[1].Content;
            var prompt = template.RenderPrompt(model.Tokenizer, single[i].Messages.Take(1).ToList());
            string answer = ExactMatch.GreedyAnswer(generator, model.Tokenizer, prompt, stops, template.StopStrings, maxNewTokens).Trim();
            bool wrong = answer.Length > 0 && ExactMatch.Normalize(answer) != ExactMatch.Normalize(expected);
            string? rejected = wrong ? answer : OtherAnswer(single, i);
            if (rejected is not null) pairs.Add(new Pair(question, expected, rejected, wrong));
            progress?.Invoke(i + 1, single.Count);
        }
        return pairs;
    }

    /// <summary>The answer of the next question of the same kind whose answer differs; null when there is none.</summary>
    static string? OtherAnswer(List<Conversation> records, int index)
    {
        static string Kind(Conversation c) => c.Messages[0].Content.Split('"')[0];
        string kind = Kind(records[index]), expected = ExactMatch.Normalize(records[index].Messages[1].Content);
        for (int step = 1; step < records.Count; step++)
        {
            var other = records[(index + step) % records.Count];
            if (Kind(other) == kind && ExactMatch.Normalize(other.Messages[1].Content) != expected) return other.Messages[1].Content;
        }
        return null;
    }

    /// <summary>Writes TRL's standard preference layout, one JSON object per line: prompt, chosen, rejected, and
    /// <c>rejected_source</c> ("model" or "other answer").</summary>
    public static void Write(string path, IEnumerable<Pair> pairs) =>
        IO.AtomicFile.Write(path, stream =>
        {
            foreach (var pair in pairs)
            {
                using (var json = new Utf8JsonWriter(stream, DemoTaskDataSet.JsonOptions))
                    JsonSerializer.Serialize(json, new Dictionary<string, string>
                    {
                        ["prompt"] = pair.Prompt, ["chosen"] = pair.Chosen, ["rejected"] = pair.Rejected,
                        ["rejected_source"] = pair.FromModel ? "model" : "other answer",
                    });
                stream.WriteByte((byte)'\n');
            }
        });
}
