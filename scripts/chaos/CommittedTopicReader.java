import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * The chaos verdict's reader: Kafka's own Java consumer with isolation.level=read_committed
 * reads every partition of a topic from the beginning to its last stable offset and prints one
 * line per record: partition, offset, the provenance header tidemark.p (tabs as spaces), value.
 *
 * Run from the chaos harness as a single-file program on the broker's jars:
 *   java -cp '<kafka libs>/*' CommittedTopicReader.java <bootstrap servers> <topic>
 */
public class CommittedTopicReader {
  public static void main(String[] args) {
    Properties properties = new Properties();
    properties.put("bootstrap.servers", args[0]);
    properties.put("isolation.level", "read_committed");
    properties.put("enable.auto.commit", "false");
    properties.put("max.poll.records", "5000");
    properties.put("key.deserializer", ByteArrayDeserializer.class.getName());
    properties.put("value.deserializer", StringDeserializer.class.getName());
    String topic = args[1];
    StringBuilder out = new StringBuilder();
    try (KafkaConsumer<byte[], String> consumer = new KafkaConsumer<>(properties)) {
      List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
      List<TopicPartition> partitions =
          infos == null
              ? List.of()
              : infos.stream().map(info -> new TopicPartition(topic, info.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      // For read_committed, the end offsets are the last stable offsets.
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
      long deadline = System.currentTimeMillis() + 120_000;
      while (partitions.stream().anyMatch(partition -> consumer.position(partition) < end.get(partition))) {
        if (System.currentTimeMillis() > deadline) {
          System.err.println("CommittedTopicReader: did not reach the end offsets " + end + " within 120 s");
          System.exit(2);
        }
        for (ConsumerRecord<byte[], String> record : consumer.poll(Duration.ofMillis(500))) {
          Header provenance = record.headers().lastHeader("tidemark.p");
          String where = provenance == null ? "" : new String(provenance.value()).replace('\t', ' ');
          out.append(record.partition()).append('\t').append(record.offset()).append('\t')
              .append(where).append('\t').append(record.value()).append('\n');
        }
      }
    }
    System.out.print(out);
    System.out.flush();
  }
}
