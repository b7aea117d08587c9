// The GraphQL shape of the module: what it adds to the schema (types and inputs), nothing else.
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A customer review of a product.' })
export class Review {
  @Field(() => ID)
  id!: number;

  @Field(() => Int, { description: '1 to 5 stars.' })
  rating!: number;

  @Field()
  body!: string;

  @Field()
  createdAt!: Date;
}

@InputType()
export class AddReviewInput {
  @Field(() => ID)
  productId!: string;

  @Field(() => Int, { description: '1 to 5 stars.' })
  rating!: number;

  @Field({ description: '1 to 2000 characters.' })
  body!: string;
}

@ObjectType({ description: 'A review you wrote was published.' })
export class ReviewEvent {
  @Field({ description: "This event's position in its stream: pass it as `after` to resume right after it." })
  cursor!: string;

  @Field({ description: 'When the review was written.' })
  occurredAt!: Date;

  @Field(() => Review)
  review!: Review;
}
